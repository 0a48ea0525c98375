//! What each address of the studio answers: the page itself, and JSON for it to draw. The list is filtered and
//! cut into windows here, so the browser holds only the rows in view, whatever the number of events.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::runtime::Handle;

use super::Studio;
use super::judgement::{self, Row};
use weft::verdict::Verdict;

/// The page: its markup with its style and script inlined, so that one request (with the token) brings it whole.
static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("page/index.html")
        .replace("/*STYLE*/", include_str!("page/studio.css"))
        .replace("/*SCRIPT*/", include_str!("page/studio.js"))
});

/// Rows sent at most per request (a window of the list, a screen or two).
const MOST_ROWS: usize = 500;

pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    fn json(value: &Value) -> Answer {
        Answer { status: StatusCode::OK, content_type: "application/json", body: value.to_string().into_bytes() }
    }

    pub fn error(status: StatusCode, message: &str) -> Answer {
        let body = json!({ "error": message }).to_string().into_bytes();
        Answer { status, content_type: "application/json", body }
    }
}

pub fn answer(studio: &Studio, method: &Method, path: &str, query: &str, body: &[u8], runtime: &Handle) -> Answer {
    let query = Query(form_urlencoded::parse(query.as_bytes()).into_owned().collect());
    let index = query.get("index").and_then(|i| i.parse::<usize>().ok());
    let result = match (method, path) {
        (&Method::GET, "/") => {
            return Answer {
                status: StatusCode::OK,
                content_type: "text/html; charset=utf-8",
                body: PAGE.clone().into_bytes(),
            };
        }
        (&Method::GET, "/api/state") => Ok(state(studio)),
        (&Method::GET, "/api/rows") => Ok(rows(studio, &query)),
        (&Method::GET, "/api/event") => event(studio, index),
        (&Method::GET, "/api/diff") => Ok(diff(studio)),
        (&Method::GET, "/api/letters") => Ok(studio.letters.lock().expect("letters").list()),
        (&Method::GET, "/api/letter") => super::letters::open(studio, index),
        (&Method::POST, "/api/letters/reload") => super::letters::reload(studio, runtime),
        (&Method::POST, "/api/redrive") => super::letters::redrive(studio, body, runtime),
        (&Method::GET, "/api/status") => super::status::status(studio, runtime),
        _ => return Answer::error(StatusCode::NOT_FOUND, &format!("no such page: {method} {path}")),
    };
    match result {
        Ok(value) => Answer::json(&value),
        Err(error) => Answer::error(StatusCode::UNPROCESSABLE_ENTITY, &format!("{error:#}")),
    }
}

/// A request's query string, decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the page polls: which judgement is on show, its counts and timing, and the loader's error if any.
fn state(studio: &Studio) -> Value {
    let view = studio.view.read().expect("view");
    json!({
        "generation": view.generation,
        "error": view.error,
        "judgement": &*view.judgement,
        "rules": studio.args.rules.as_deref().unwrap_or("builtin:default"),
        "against": studio.args.against,
        "events": studio.args.events,
        "status": studio.args.rules.as_deref().is_some_and(|r| r.starts_with("s3://")),
    })
}

/// A window of the list, after the filters: `from`, `count`, and `kind`, `rule`, `verdict`, `changed`, and `q`
/// (an event or conversation id, or a part of one).
fn rows(studio: &Studio, query: &Query) -> Value {
    let param = |name: &str| query.get(name);
    let view = studio.view.read().expect("view");
    let judgement = view.judgement.clone();
    drop(view);
    let number = |name: &str, default: usize| param(name).and_then(|n| n.parse().ok()).unwrap_or(default);
    let (from, count) = (number("from", 0), number("count", 100).min(MOST_ROWS));
    let wanted = |row: &Row| {
        param("kind").is_none_or(|k| k.is_empty() || row.kind.as_deref().unwrap_or("other") == k)
            && param("rule").is_none_or(|r| r.is_empty() || row.rules.iter().any(|mine| mine == r))
            && param("verdict").is_none_or(|v| v.is_empty() || row.verdict == v)
            && param("changed").is_none_or(|c| c != "1" || row.changed)
            && param("q").is_none_or(|q| {
                q.is_empty() || row.id.contains(q) || row.conversation.as_deref().is_some_and(|c| c.contains(q))
            })
    };
    let mut total = 0;
    let mut window = Vec::new();
    for (index, row) in judgement.rows.iter().enumerate().filter(|(_, row)| wanted(row)) {
        if total >= from && window.len() < count {
            let mut value = serde_json::to_value(row).expect("a row serialises");
            value["index"] = index.into();
            window.push(value);
        }
        total += 1;
    }
    json!({ "total": total, "from": from, "rows": window })
}

/// One event: its envelope, and its verdict as the rules judge it now (and as `--against` does).
fn event(studio: &Studio, index: Option<usize>) -> anyhow::Result<Value> {
    let judgement = studio.view.read().expect("view").judgement.clone();
    let row = index.and_then(|i| judgement.rows.get(i)).ok_or_else(|| anyhow::anyhow!("no event at that index"))?;
    let (text, source) = judgement::text_at(&row.at)?;
    let mut guard = studio.judges.lock().expect("judges");
    let judges = guard.as_mut().ok_or_else(|| anyhow::anyhow!("the rules have not loaded yet"))?;
    let current = judgement::judge_one(&mut judges.current, &text, source.clone());
    let against = judges.against.as_mut().map(|judge| judgement::judge_one(judge, &text, source.clone()));
    Ok(json!({
        "index": index,
        "row": row,
        "source": source.to_string(),
        "envelope": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        "verdict": verdict_json(&current.verdict),
        "against": against.map(|a| verdict_json(&a.verdict)),
    }))
}

/// A verdict for the page: its records whole, or the drop or dead letter without the event it carries.
pub fn verdict_json(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Records(records) => {
            let records: Vec<Value> = (records.iter())
                .map(|r| json!({ "record": r, "rule": &*r.id.rule, "index": r.id.index, "stream": r.stream }))
                .collect();
            json!({ "verdict": "records", "records": records })
        }
        Verdict::Dropped(dropped) => json!({ "verdict": "dropped", "dropped": dropped }),
        Verdict::DeadLetter(letter) => json!({ "verdict": "dead-letter", "deadLetter": without_event(letter) }),
    }
}

/// A dead letter for the page, without the event it carries (shown beside it, as the event).
pub fn without_event(letter: &weft::verdict::DeadLetter) -> Value {
    let mut letter = serde_json::to_value(letter).expect("a dead letter serialises");
    letter.as_object_mut().map(|l| l.remove("event"));
    letter
}

/// `weft rules diff`'s report, with the list index of each example event so the page can link to it.
fn diff(studio: &Studio) -> Value {
    let judgement = studio.view.read().expect("view").judgement.clone();
    let Some(report) = &judgement.report else {
        return json!({ "report": null });
    };
    let named: std::collections::HashSet<&str> = (report.paths.values().chain(report.outcomes.values()))
        .flat_map(|examples| examples.events.iter().map(String::as_str))
        .collect();
    let links: serde_json::Map<String, Value> = (judgement.rows.iter().enumerate())
        .filter(|(_, row)| named.contains(row.id.as_str()))
        .map(|(index, row)| (row.id.clone(), index.into()))
        .collect();
    json!({ "report": report, "links": links, "against": judgement.against_version, "version": judgement.version })
}
