//! Which events a rule takes: topic kinds and JSONPath predicates, compiled once when the rule set loads.

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;
use weft_sdk::Kind;

/// A compiled RFC 9535 JSONPath query, with its text for messages.
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    query: JpQuery,
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let query =
            jsonpath_rust::parser::parse_json_path(text).map_err(|e| format!("`{text}` is not JSONPath: {e}"))?;
        Ok(Path { text: text.to_owned(), query })
    }

    /// The nodes the query selects (none when it cannot be evaluated on this value).
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        jsonpath_rust::query::js_path_process(&self.query, value)
            .map(|nodes| nodes.into_iter().map(|n| n.val).collect())
            .unwrap_or_default()
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// One kind pattern: `*`, a family such as `customer.*`, or one kind.
#[derive(Debug, Clone, PartialEq)]
enum KindPattern {
    Any,
    Family(String),
    Exact(String),
}

impl KindPattern {
    fn parse(pattern: &str) -> Result<KindPattern, String> {
        let known = || Kind::KNOWN.iter().map(Kind::as_str).collect::<Vec<_>>().join(", ");
        if pattern == "*" {
            return Ok(KindPattern::Any);
        }
        if let Some(family) = pattern.strip_suffix(".*") {
            if family.is_empty() || !family.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(format!("`{pattern}` is not a kind pattern (`*`, `customer.*` or a kind)"));
            }
            return Ok(KindPattern::Family(format!("{family}.")));
        }
        // A misspelt kind would silently match nothing: refuse it. Kinds Genesys adds later match `*` and families.
        if Kind::KNOWN.iter().any(|k| k.as_str() == pattern) {
            return Ok(KindPattern::Exact(pattern.to_owned()));
        }
        Err(format!("unknown kind `{pattern}` (known: {}; `*` and `family.*` match others)", known()))
    }

    fn matches(&self, kind: &str) -> bool {
        match self {
            KindPattern::Any => true,
            KindPattern::Family(prefix) => kind.starts_with(prefix.as_str()),
            KindPattern::Exact(exact) => kind == exact,
        }
    }
}

/// What a predicate asks of the nodes its path selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// At least one node.
    Exists,
    /// At least one node equal to this value.
    Equals(Value),
    /// At least one node equal to one of these values.
    OneOf(Vec<Value>),
}

#[derive(Debug, Clone)]
pub struct Predicate {
    pub path: Path,
    pub test: Test,
}

impl Predicate {
    fn holds(&self, event: &Value) -> bool {
        let nodes = self.path.select(event);
        match &self.test {
            Test::Exists => !nodes.is_empty(),
            Test::Equals(expected) => nodes.contains(&expected),
            Test::OneOf(values) => nodes.iter().any(|n| values.contains(n)),
        }
    }
}

/// A rule's match: every part must hold. An empty match takes every event.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// `None`: any event, conversation or not.
    kinds: Option<Vec<KindPattern>>,
    predicates: Vec<Predicate>,
}

impl Matcher {
    /// `kinds`: patterns, each checked (an error names the pattern).
    pub fn new(kinds: Option<&[String]>, predicates: Vec<Predicate>) -> Result<Matcher, (usize, String)> {
        let kinds = kinds
            .map(|kinds| kinds.iter().enumerate().map(|(i, k)| KindPattern::parse(k).map_err(|e| (i, e))).collect())
            .transpose()?;
        Ok(Matcher { kinds, predicates })
    }

    /// True when the predicates need the envelope as a JSON tree (parsed once per event, for all rules).
    pub fn needs_tree(&self) -> bool {
        !self.predicates.is_empty()
    }

    /// `tree` is the envelope parsed, present whenever [`Matcher::needs_tree`] is.
    pub fn matches(&self, kind: Option<&str>, tree: Option<&Value>) -> bool {
        if let Some(patterns) = &self.kinds {
            let Some(kind) = kind else { return false };
            if !patterns.iter().any(|p| p.matches(kind)) {
                return false;
            }
        }
        match tree {
            Some(tree) => self.predicates.iter().all(|p| p.holds(tree)),
            None => self.predicates.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(patterns: &[&str]) -> Matcher {
        Matcher::new(Some(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()), vec![]).unwrap()
    }

    #[test]
    fn kind_patterns_match_one_kind_a_family_or_all() {
        assert!(kinds(&["acw"]).matches(Some("acw"), None));
        assert!(!kinds(&["acw"]).matches(Some("acd.end"), None));
        assert!(kinds(&["customer.*"]).matches(Some("customer.end"), None));
        assert!(!kinds(&["customer.*"]).matches(Some("acd.end"), None));
        assert!(kinds(&["*"]).matches(Some("some.future.kind"), None));
        assert!(!kinds(&["*"]).matches(None, None), "a pattern needs a conversation kind");
        assert!(Matcher::default().matches(None, None), "no kinds: every event");
    }

    #[test]
    fn misspelt_kinds_are_refused_with_the_known_ones() {
        let e = Matcher::new(Some(&["customer.end".into(), "custmer.end".into()]), vec![]).unwrap_err();
        assert_eq!(e.0, 1);
        assert!(e.1.starts_with("unknown kind `custmer.end` (known: customer.start, customer.end,"), "{}", e.1);
    }

    #[test]
    fn predicates_test_the_nodes_a_path_selects() {
        let event = json!({"detail": {"eventBody": {"mediaType": "VOICE", "direction": "INBOUND"}}});
        let predicate = |path: &str, test| Predicate { path: Path::parse(path).unwrap(), test };
        let voice = predicate("$.detail.eventBody.mediaType", Test::Equals(json!("VOICE")));
        let inbound_or_outbound =
            predicate("$.detail.eventBody.direction", Test::OneOf(vec![json!("OUTBOUND"), json!("INBOUND")]));
        let filter = predicate("$.detail[?@.mediaType == 'VOICE']", Test::Exists);
        let missing = predicate("$.detail.eventBody.queueId", Test::Exists);
        for (p, expected) in [(voice, true), (inbound_or_outbound, true), (filter, true), (missing, false)] {
            let m = Matcher::new(None, vec![p.clone()]).unwrap();
            assert_eq!(m.matches(Some("acw"), Some(&event)), expected, "{}", p.path.text());
        }
    }

    #[test]
    fn bad_jsonpath_is_refused_with_the_text() {
        let e = Path::parse("$.detail[?@.x ==").unwrap_err();
        assert!(e.starts_with("`$.detail[?@.x ==` is not JSONPath"), "{e}");
    }
}
