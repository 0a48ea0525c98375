//! Lookup tables that keep themselves current: a table the manifest marks `sync` is rebuilt from the Genesys Cloud
//! API (id → name, or the fields the operator lists) and published as a new version of the rule set, which the
//! Lambdas take by the ordinary hot swap. A table is never replaced by a suspiciously smaller one: an API that
//! answers an empty listing after an error must not turn every name back into an id.

pub mod genesys;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::rules::manifest::SyncSpec;

/// The share of its rows a table keeps at least, unless its `sync.minRatio` says otherwise.
pub const DEFAULT_MIN_RATIO: f64 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("table `{table}`: {source}")]
    Api { table: String, source: genesys::GenesysError },
    #[error("table `{table}`: an entity without an `id`")]
    NoId { table: String },
    #[error(
        "table `{table}`: the listing has {rows} rows where the published table has {published}, fewer than \
         {min_ratio} of them; not replaced (an API or permission problem?). Check the OAuth client's roles and \
         divisions, or lower `sync.minRatio` if the organisation really shrank"
    )]
    TooSmall { table: String, rows: usize, published: usize, min_ratio: f64 },
}

/// One synced table, as it would be published.
#[derive(Debug)]
pub struct SyncedTable {
    pub rows: usize,
    /// The table file: a JSON object of id → value, keys in order, so the same listing makes the same bytes.
    pub bytes: Vec<u8>,
}

/// Lists the table's source and builds its file; refuses it when it has fewer than `minRatio` of `published`
/// rows (the rows of the version now published, when there is one).
pub async fn sync_table(
    api: &mut genesys::Genesys,
    name: &str,
    spec: &SyncSpec,
    published: Option<usize>,
) -> Result<SyncedTable, SyncError> {
    let (path, query) = spec.source.listing();
    let entities = api.list(path, query).await.map_err(|source| SyncError::Api { table: name.to_owned(), source })?;
    let rows = rows(name, &entities, &spec.fields)?;
    let min_ratio = spec.min_ratio.unwrap_or(DEFAULT_MIN_RATIO);
    if let Some(published) = published
        && (rows.len() as f64) < published as f64 * min_ratio
    {
        return Err(SyncError::TooSmall { table: name.to_owned(), rows: rows.len(), published, min_ratio });
    }
    let mut bytes = serde_json::to_vec_pretty(&rows).expect("a map of strings serialises");
    bytes.push(b'\n');
    Ok(SyncedTable { rows: rows.len(), bytes })
}

/// Each entity's id and value: its `name`, or a JSON object of `fields` (absent ones left out).
fn rows(
    table: &str,
    entities: &[Map<String, Value>],
    fields: &[String],
) -> Result<BTreeMap<String, String>, SyncError> {
    let mut rows = BTreeMap::new();
    for entity in entities {
        let id = entity.get("id").and_then(Value::as_str).ok_or_else(|| SyncError::NoId { table: table.to_owned() })?;
        let value = if fields.is_empty() {
            entity.get("name").and_then(Value::as_str).unwrap_or_default().to_owned()
        } else {
            let kept: Map<String, Value> =
                fields.iter().filter_map(|f| entity.get(f).map(|v| (f.clone(), v.clone()))).collect();
            Value::Object(kept).to_string()
        };
        rows.insert(id.to_owned(), value);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities() -> Vec<Map<String, Value>> {
        serde_json::from_str(
            r#"[{"id": "b", "name": "Billing", "email": "x@example.com", "division": {"id": "d1"}},
                {"id": "a", "name": "Accounts", "selfUri": "/api/v2/users/a"}]"#,
        )
        .unwrap()
    }

    #[test]
    fn a_table_is_names_by_id_in_id_order_or_the_listed_fields() {
        let names = rows("t", &entities(), &[]).unwrap();
        assert_eq!(serde_json::to_string(&names).unwrap(), r#"{"a":"Accounts","b":"Billing"}"#);
        let fields = rows("t", &entities(), &["name".into(), "division".into()]).unwrap();
        assert_eq!(fields["b"], r#"{"name":"Billing","division":{"id":"d1"}}"#);
        assert_eq!(fields["a"], r#"{"name":"Accounts"}"#);
        let no_id: Vec<Map<String, Value>> = serde_json::from_str(r#"[{"name": "x"}]"#).unwrap();
        assert!(matches!(rows("t", &no_id, &[]), Err(SyncError::NoId { .. })));
    }
}
