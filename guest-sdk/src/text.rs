//! A string read from the event without copying it, unless JSON escapes force a copy.
//!
//! serde borrows a `Cow<str>` field only when the field is exactly `Cow<str>`; inside an `Option` (as every Genesys
//! field is) it always copies. `Str` borrows wherever it sits, which matters in wasm, where each copy is an
//! allocation in the module's own (slower) allocator.

use std::borrow::Cow;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> From<&'a str> for Str<'a> {
    fn from(value: &'a str) -> Self {
        Str(Cow::Borrowed(value))
    }
}

impl Serialize for Str<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, value: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(value)))
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(value)))
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Str<'_> {
    fn schema_name() -> Cow<'static, str> {
        "String".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_inside_options_and_copies_only_escaped_strings() {
        #[derive(Deserialize)]
        struct T<'a> {
            #[serde(borrow)]
            plain: Option<Str<'a>>,
            #[serde(borrow)]
            escaped: Option<Str<'a>>,
        }
        let t: T = serde_json::from_str(r#"{"plain":"abc","escaped":"a\"b"}"#).unwrap();
        assert!(matches!(t.plain.unwrap().0, Cow::Borrowed("abc")));
        assert_eq!(t.escaped.as_deref(), Some("a\"b"));
        assert!(matches!(t.escaped.unwrap().0, Cow::Owned(_)));
    }
}
