//! JSON output: timeline events and the ingest report (schemas in docs/formats.md and docs/output.md).

use std::io::{self, Write};

use serde_json::{json, Map, Value};

use crate::enrich::Enrichment;
use crate::model::Event;
use crate::normalize::time;
use crate::timeline::UserTimeline;

/// An event's attributes as a JSON object; a name that repeats becomes a list.
pub fn attrs_value(e: &Event) -> Value {
    let mut map = Map::new();
    for (k, v) in &e.attrs {
        match map.get_mut(&**k) {
            None => {
                map.insert(k.to_string(), Value::String(v.to_string()));
            }
            Some(Value::Array(list)) => list.push(Value::String(v.to_string())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.to_string())]);
            }
        }
    }
    Value::Object(map)
}

/// One event as a JSON object (the timeline JSON schema).
pub fn event_value(timeline_user: &str, e: &Event, files: &[String], ips: &Enrichment) -> Value {
    let info = ips.for_event(e);
    json!({
        "timeline_user": timeline_user,
        "time": time::format(&e.time),
        "source": e.source,
        "user": &*e.user,
        "operation": &*e.operation,
        "outcome": e.outcome,
        "error_code": e.error_code.as_deref(),
        "ip": e.ip.map(|i| i.to_string()),
        "country": e.country.as_deref(),
        "region": e.region.as_deref(),
        "city": e.city.as_deref(),
        "asn": e.asn,
        "ip_scope": info.map(|i| i.scope),
        "ip_country": info.and_then(|i| i.country.as_deref()),
        "ip_asn": info.and_then(|i| i.asn),
        "ip_as_org": info.and_then(|i| i.as_org.as_deref()),
        "ip_network": info.map(|i| i.network),
        "ip_provider": info.and_then(|i| i.provider.as_deref()),
        "user_agent": e.user_agent.as_deref(),
        "application": e.application.as_deref(),
        "client_app": e.client_app.as_deref(),
        "device_id": e.device_id.as_deref(),
        "session_id": e.session_id.as_deref(),
        "correlation_id": e.correlation_id.as_deref(),
        "request_id": e.request_id.as_deref(),
        "token_id": e.token_id.as_deref(),
        "record_id": e.record_id.as_deref(),
        "object": e.object.as_deref(),
        "attrs": attrs_value(e),
        "origin": {
            "file": files.get(e.origin.file as usize),
            "line": e.origin.line,
            "record": e.origin.record,
        },
    })
}

/// Writes the timelines as one JSON array, streamed (`lines` writes JSON Lines instead).
pub fn write_timeline(
    out: &mut dyn Write,
    timelines: &[UserTimeline],
    files: &[String],
    ips: &Enrichment,
    lines: bool,
) -> io::Result<()> {
    let mut first = true;
    if !lines {
        out.write_all(b"[\n")?;
    }
    for t in timelines {
        for e in &t.events {
            if !lines && !first {
                out.write_all(b",\n")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &event_value(&t.user, e, files, ips))?;
            if lines {
                out.write_all(b"\n")?;
            }
        }
    }
    if !lines {
        out.write_all(b"\n]\n")?;
    }
    out.flush()
}
