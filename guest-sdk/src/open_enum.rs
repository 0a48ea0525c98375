//! Enums that never reject a value.
//!
//! Genesys adds enum values every few months (`mediaType`, `disconnectType`, ...). A rule compiled today must
//! still read an event sent next year, so every enum keeps the values it does not know in `Unrecognized`, and
//! writes them back unchanged.

macro_rules! open_enums {
    ($($name:ident { $($variant:ident = $value:literal),* $(,)? })*) => {$(
        #[doc = concat!("A Genesys `", stringify!($name), "` value; unknown values are kept in `Unrecognized`.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = concat!("`", $value, "`")] $variant,)*
            /// A value this SDK does not know yet, kept verbatim.
            Unrecognized(String),
        }

        impl $name {
            /// The values this SDK knows.
            pub const KNOWN: &'static [&'static str] = &[$($value),*];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unrecognized(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($value => $name::$variant,)*
                    other => $name::Unrecognized(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Ok($name::from(value.as_ref()))
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!(
                        "Known values: ", $($value, " "),*,
                        "; Genesys adds values over time and they are kept as sent."
                    ),
                    "examples": [$($value),*]
                })
            }
        }
    )*};
}

pub(crate) use open_enums;
