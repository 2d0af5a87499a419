//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use breachline::ingest::{self, IngestOptions, Ingested};
use breachline::model::Event;
use breachline::normalize::time;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn fixture(rel: &str) -> PathBuf {
    fixtures().join(rel)
}

/// Ingests paths with default options.
pub fn ingest_paths(paths: &[PathBuf]) -> Ingested {
    ingest::ingest(paths, &IngestOptions::default())
        .expect("ingest should not fail on readable paths")
}

pub fn ingest_one(path: &Path) -> Ingested {
    ingest_paths(&[path.to_path_buf()])
}

/// Runs the breachline binary.
pub fn breachline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breachline"))
        .args(args)
        .output()
        .expect("the breachline binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The normalized fields of an event as (name, value) text pairs, for comparing variants.
pub fn fields(e: &Event) -> Vec<(&'static str, String)> {
    let o = |v: &Option<breachline::model::Text>| v.as_deref().unwrap_or("").to_string();
    vec![
        ("time", time::format(&e.time)),
        ("source", e.source.as_str().into()),
        ("user", e.user.to_string()),
        ("operation", e.operation.to_string()),
        ("outcome", e.outcome.as_str().into()),
        ("error_code", o(&e.error_code)),
        ("ip", e.ip.map(|i| i.to_string()).unwrap_or_default()),
        ("country", o(&e.country)),
        ("region", o(&e.region)),
        ("city", o(&e.city)),
        ("asn", e.asn.map(|a| a.to_string()).unwrap_or_default()),
        ("user_agent", o(&e.user_agent)),
        ("application", o(&e.application)),
        ("client_app", o(&e.client_app)),
        ("device_id", o(&e.device_id)),
        ("session_id", o(&e.session_id)),
        ("correlation_id", o(&e.correlation_id)),
        ("request_id", o(&e.request_id)),
        ("token_id", o(&e.token_id)),
        ("record_id", o(&e.record_id)),
        ("object", o(&e.object)),
    ]
}

/// One named field of an event as text.
pub fn field(e: &Event, name: &str) -> String {
    fields(e)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| e.attr_all(name).collect::<Vec<_>>().join("|"))
}

/// Events of a file in file order (ingest sorts by time; origin order is the file's own).
pub fn in_file_order(ing: &Ingested) -> Vec<&Event> {
    let mut v: Vec<&Event> = ing.events.iter().collect();
    v.sort_by_key(|e| e.origin);
    v
}
