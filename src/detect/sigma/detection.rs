//! One Sigma rule's `detection`, as a condition of breachline's engine. Parsing and matching are
//! the `sigma-rust` crate's (full condition syntax and field modifiers); this file hands it each
//! normalized event under the Sigma field names the mapping gives.
//!
//! The Sigma event is built once per event and logsource, not once per rule: the rules of one
//! logsource share a [`Shape`], and the last event built is kept per thread. Its key is the
//! event's address plus the run number that every [`crate::detect::run`] takes anew
//! ([`crate::detect::engine::run_number`]), so an event
//! list freed and another allocated at the same place is never mistaken for the old one.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use sigma_rust::Event as SigmaEvent;

use super::fields::{FieldSpec, Kind, Read};
use crate::detect::field::{EventView, Value};
use crate::detect::matcher::{Condition, MatchContext};

/// The fields the rules of one logsource read, and the audit workloads they see.
#[derive(Debug)]
pub struct Shape {
    pub logsource: String,
    pub fields: Vec<(String, FieldSpec)>,
    /// Lower-cased workloads; empty for every workload.
    pub workloads: Vec<String>,
}

/// A compiled Sigma detection.
pub struct SigmaCond {
    pub rule: sigma_rust::Rule,
    pub shape: Arc<Shape>,
}

impl fmt::Debug for SigmaCond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigmaCond({:?}, {})",
            self.rule.title, self.shape.logsource
        )
    }
}

/// (run, event address, shape address): what the kept Sigma event was built for.
type Key = (u64, usize, usize);

thread_local! {
    /// The last Sigma event built on this thread, with its key.
    static LAST: RefCell<Option<(Key, SigmaEvent)>> = const { RefCell::new(None) };
}

impl Condition for SigmaCond {
    /// Whether the event is one the rule's logsource covers and the detection matches it.
    fn matches(&self, v: &EventView<'_>, _: &MatchContext) -> bool {
        // Workloads sort unified audit log records; other sources (the Entra audit log's own
        // export) have none.
        if !self.shape.workloads.is_empty() && v.event.source == crate::model::Source::Audit {
            let ok = v.event.attr("workload").is_some_and(|w| {
                self.shape
                    .workloads
                    .iter()
                    .any(|x| w.eq_ignore_ascii_case(x))
            });
            if !ok {
                return false;
            }
        }
        let key = (
            crate::detect::engine::run_number(),
            v.event as *const _ as usize,
            Arc::as_ptr(&self.shape) as usize,
        );
        LAST.with(|cell| {
            let mut last = cell.borrow_mut();
            if last.as_ref().is_none_or(|(k, _)| *k != key) {
                *last = Some((key, build(v, &self.shape)));
            }
            last.as_ref()
                .is_some_and(|(_, event)| self.rule.is_match(event))
        })
    }
}

/// The event under Sigma's names.
pub fn build(v: &EventView<'_>, shape: &Shape) -> SigmaEvent {
    let mut out = SigmaEvent::new();
    for (name, spec) in &shape.fields {
        match value_of(v, spec) {
            Some(Out::Text(s)) => out.insert(name.as_str(), s),
            Some(Out::Int(n)) => out.insert(name.as_str(), n),
            Some(Out::Bool(b)) => out.insert(name.as_str(), b),
            None => {}
        }
    }
    out
}

/// A value as the Sigma matcher takes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// One Sigma field's value, or nothing when the event has none (and no `absent` default).
/// Several values are joined by `; `.
pub fn value_of(v: &EventView<'_>, spec: &FieldSpec) -> Option<Out> {
    let mut text: Option<String> = None;
    // Values are written straight into the one text (no temporary per value).
    let mut add = |part: std::fmt::Arguments<'_>| {
        let t = text.get_or_insert_with(String::new);
        if !t.is_empty() {
            t.push_str("; ");
        }
        let _ = t.write_fmt(part);
    };
    let mut single: Option<Value<'_>> = None;
    let mut n = 0usize;
    fn read<'a>(
        v: &EventView<'a>,
        r: &Read,
        add: &mut impl FnMut(std::fmt::Arguments<'_>),
        n: &mut usize,
        single: &mut Option<Value<'a>>,
    ) {
        match r {
            Read::Field(f) => {
                f.any(v, |x| {
                    *n += 1;
                    if *n == 1 {
                        *single = Some(x);
                    }
                    match x {
                        Value::Text(s) => add(format_args!("{s}")),
                        Value::Int(i) => add(format_args!("{i}")),
                        Value::Ip(ip) => add(format_args!("{ip}")),
                        Value::Bool(b) => add(format_args!("{b}")),
                    }
                    false
                });
            }
            Read::AttrPrefix(prefix) => {
                for (k, val) in &v.event.attrs {
                    if let Some(name) = k.strip_prefix(prefix.as_str()) {
                        *n += 2;
                        add(format_args!("{name}: {val}"));
                    }
                }
            }
            Read::Many(parts) => {
                for p in parts {
                    read(v, p, add, n, single);
                }
            }
        }
    }
    read(v, &spec.read, &mut add, &mut n, &mut single);
    let mut text = match text {
        Some(t) => t,
        None => spec.absent.clone()?,
    };
    if let Some(suffix) = &spec.strip_suffix {
        if text.len() > suffix.len() && text.ends_with(suffix.as_str()) {
            text.truncate(text.len() - suffix.len());
        }
    }
    if let Some(want) = &spec.equals {
        return Some(Out::Bool(text.eq_ignore_ascii_case(want)));
    }
    Some(match spec.kind {
        Kind::Text => Out::Text(text),
        Kind::Int => match (n, single) {
            (1, Some(Value::Int(i))) => Out::Int(i),
            _ => text
                .trim()
                .parse::<i64>()
                .map(Out::Int)
                .unwrap_or(Out::Text(text)),
        },
        Kind::Bool => match (n, single) {
            (1, Some(Value::Bool(b))) => Out::Bool(b),
            // Entra's modified properties hold JSON text: `"False"` with its quotes.
            _ => match text.trim().trim_matches('"').to_ascii_lowercase().as_str() {
                "true" => Out::Bool(true),
                "false" => Out::Bool(false),
                _ => Out::Text(text),
            },
        },
    })
}
