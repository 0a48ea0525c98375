//! Lookup tables for stitching: static data (queue names, wrap-up names, ...) that modules read through the WIT
//! `lookup(table, key)` import.
//!
//! A table is a file named in the rule set: a JSON object (`{"key": value}`; a value that is not a string is
//! served as its JSON text) or a CSV file with a header row, keyed by one column and serving either one column or,
//! with no value column named, the whole row as a JSON object. Its version is the sha256 of the file, so a record
//! can say exactly which table contents stitched it.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::engine::{ModuleId, Tables};

/// One loaded table and the hash of the bytes it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub entries: HashMap<String, String>,
    pub sha256: String,
}

/// How to read a table's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Json,
    Csv,
}

impl TableFormat {
    /// From the file name: `.csv` is CSV, anything else must be JSON.
    pub fn of(path: &Path) -> TableFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => TableFormat::Csv,
            _ => TableFormat::Json,
        }
    }
}

/// Why a table's bytes are not a table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    #[error("not a JSON object of keys to values: {0}")]
    Json(String),
    #[error("CSV: {0}")]
    Csv(String),
    #[error("CSV has no column `{column}` (columns: {columns})")]
    NoColumn { column: String, columns: String },
    #[error("a JSON table is an object of keys to values; `key` and `value` columns apply to CSV only")]
    ColumnsOnJson,
}

impl Table {
    /// Parses a table. `key`/`value` name CSV columns (`key` defaults to the first column).
    pub fn parse(
        bytes: &[u8],
        format: TableFormat,
        key: Option<&str>,
        value: Option<&str>,
    ) -> Result<Table, TableError> {
        let sha256 = ModuleId::new("", bytes).sha256;
        let entries = match format {
            TableFormat::Json if key.is_some() || value.is_some() => return Err(TableError::ColumnsOnJson),
            TableFormat::Json => {
                let object: serde_json::Map<String, Value> =
                    serde_json::from_slice(bytes).map_err(|e| TableError::Json(e.to_string()))?;
                object
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect()
            }
            TableFormat::Csv => parse_csv(bytes, key, value)?,
        };
        Ok(Table { entries, sha256 })
    }
}

fn parse_csv(bytes: &[u8], key: Option<&str>, value: Option<&str>) -> Result<HashMap<String, String>, TableError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let headers = reader.headers().map_err(|e| TableError::Csv(e.to_string()))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| TableError::NoColumn {
            column: name.to_owned(),
            columns: headers.iter().collect::<Vec<_>>().join(", "),
        })
    };
    let key_index = key.map(column).transpose()?.unwrap_or(0);
    let value_index = value.map(column).transpose()?;
    let mut entries = HashMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| TableError::Csv(e.to_string()))?;
        let Some(k) = row.get(key_index) else { continue };
        let v = match value_index {
            Some(i) => row.get(i).unwrap_or_default().to_owned(),
            None => {
                let object: serde_json::Map<String, Value> =
                    headers.iter().zip(row.iter()).map(|(h, v)| (h.to_owned(), Value::String(v.to_owned()))).collect();
                Value::Object(object).to_string()
            }
        };
        entries.insert(k.to_owned(), v);
    }
    Ok(entries)
}

/// The tables a rule set serves, and their versions for lineage.
#[derive(Debug, Clone, Default)]
pub struct TableSet {
    pub tables: std::sync::Arc<Tables>,
    /// Table name → sha256 of its file, in name order.
    pub versions: std::collections::BTreeMap<String, String>,
}

impl TableSet {
    pub fn new(tables: Vec<(String, Table)>) -> TableSet {
        let versions = tables.iter().map(|(name, t)| (name.clone(), t.sha256.clone())).collect();
        let tables = tables.into_iter().map(|(name, t)| (name, t.entries)).collect();
        TableSet { tables: std::sync::Arc::new(tables), versions }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_tables_serve_strings_as_is_and_other_values_as_json() {
        let t = Table::parse(br#"{"a": "Sales", "b": {"name": "x"}, "c": 3}"#, TableFormat::Json, None, None).unwrap();
        assert_eq!(t.entries["a"], "Sales");
        assert_eq!(t.entries["b"], r#"{"name":"x"}"#);
        assert_eq!(t.entries["c"], "3");
        assert_eq!(t.sha256.len(), 64);
    }

    #[test]
    fn csv_tables_serve_a_column_or_the_whole_row() {
        let csv = b"id,name,region\nq1,\"Sales, EMEA\",eu\nq2,Support,us\n";
        let one = Table::parse(csv, TableFormat::Csv, Some("id"), Some("name")).unwrap();
        assert_eq!(one.entries["q1"], "Sales, EMEA");
        let rows = Table::parse(csv, TableFormat::Csv, None, None).unwrap();
        assert_eq!(rows.entries["q2"], r#"{"id":"q2","name":"Support","region":"us"}"#);
        let missing = Table::parse(csv, TableFormat::Csv, Some("queue"), None).unwrap_err();
        assert_eq!(missing.to_string(), "CSV has no column `queue` (columns: id, name, region)");
    }

    #[test]
    fn a_json_table_that_is_not_an_object_is_refused() {
        let e = Table::parse(b"[1, 2]", TableFormat::Json, None, None).unwrap_err();
        assert!(matches!(e, TableError::Json(_)), "{e}");
    }
}
