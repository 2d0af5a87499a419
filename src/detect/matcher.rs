//! Per-event conditions: a tree of `all` / `any` / `not` over field tests (equals, in-list,
//! contains, starts/ends with, regex, CIDR, numeric compare, exists, external mail domain).
//!
//! A condition is read in two steps. [`RawCond`] is what the YAML says, with literal values
//! still possibly naming a rule parameter (`$finance_words`); [`RawCond::compile`] resolves the
//! parameters and builds a [`Cond`], whose evaluation allocates nothing for ASCII text.
//!
//! Text compares case-insensitively (Microsoft logs spell `New-InboxRule` and `new-inboxrule`).
//! A field with several values (a repeated attribute) matches when any value does, unless the
//! test says `all_values: true`.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;
use rustc_hash::FxHashSet;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use super::field::{EventView, Field, Value};
use super::rule::Params;

/// What the evaluation needs besides the event: the organisation's own mail domains, so
/// "forwards to an external domain" can be decided.
#[derive(Clone, Debug, Default)]
pub struct MatchContext {
    /// Lower-cased domains of the tenant's users.
    pub tenant_domains: FxHashSet<String>,
}

impl MatchContext {
    /// Whether an address (`smtp:a@b.example`, `a@b.example`) is outside the tenant. A value that
    /// is not an address is not external.
    pub fn is_external(&self, address: &str) -> bool {
        let a = address.trim();
        let a = a
            .strip_prefix("smtp:")
            .or_else(|| a.strip_prefix("SMTP:"))
            .unwrap_or(a);
        match a.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                let d = domain.trim_end_matches('>').to_ascii_lowercase();
                !self
                    .tenant_domains
                    .iter()
                    .any(|t| d == *t || d.ends_with(&format!(".{t}")))
            }
            _ => false,
        }
    }
}

/// A condition as written in a rule file.
#[derive(Clone, Debug, PartialEq)]
pub enum RawCond {
    All(Vec<RawCond>),
    Any(Vec<RawCond>),
    Not(Box<RawCond>),
    Test(Field, Box<RawOp>),
}

/// The test on one field, as written: a bare value or list (equals / in-list) or a map of
/// operators.
#[derive(Clone, Debug, PartialEq)]
pub enum RawOp {
    Equals(Yaml),
    Ops(Box<OpMap>),
}

/// Operators on one field; several in one map must all hold.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpMap {
    /// Equal to the value (text: ignoring case).
    #[serde(default)]
    pub eq: Option<Yaml>,
    /// Equal to one of the values.
    #[serde(default, rename = "in")]
    pub in_list: Option<Yaml>,
    /// Not equal to any of the values.
    #[serde(default)]
    pub not_in: Option<Yaml>,
    /// Contains the text (or one of the texts in a list).
    #[serde(default)]
    pub contains: Option<Yaml>,
    #[serde(default)]
    pub starts_with: Option<Yaml>,
    #[serde(default)]
    pub ends_with: Option<Yaml>,
    /// A regular expression (Rust `regex` syntax), case-insensitive unless it says `(?-i)`.
    #[serde(default)]
    pub regex: Option<Yaml>,
    /// Address in one of the networks (`10.0.0.0/8`, a list of them).
    #[serde(default)]
    pub cidr: Option<Yaml>,
    #[serde(default)]
    pub gt: Option<Yaml>,
    #[serde(default)]
    pub gte: Option<Yaml>,
    #[serde(default)]
    pub lt: Option<Yaml>,
    #[serde(default)]
    pub lte: Option<Yaml>,
    /// The field has a non-empty value (`true`) or none (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// The value is a mail address outside the tenant's domains (`true`) or inside (`false`).
    #[serde(default)]
    pub external_domain: Option<bool>,
    /// Every value of a repeated field must pass, not just one.
    #[serde(default)]
    pub all_values: bool,
}

const COND_SHAPE: &str = "a map of field names to tests, or `all: [..]`, `any: [..]`, `not: {..}`";

impl<'de> Deserialize<'de> for RawCond {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawCond, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCond;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(COND_SHAPE)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawCond, A::Error> {
                // A bare list of conditions means all of them.
                let mut all = Vec::new();
                while let Some(c) = seq.next_element::<RawCond>()? {
                    all.push(c);
                }
                Ok(RawCond::All(all))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCond, A::Error> {
                let mut parts = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let part = match key.as_str() {
                        "all" => RawCond::All(map.next_value::<Vec<RawCond>>()?),
                        "any" => RawCond::Any(map.next_value::<Vec<RawCond>>()?),
                        "not" => RawCond::Not(Box::new(map.next_value::<RawCond>()?)),
                        name => {
                            let field = Field::parse(name).map_err(de::Error::custom)?;
                            RawCond::Test(field, Box::new(map.next_value::<RawOp>()?))
                        }
                    };
                    parts.push(part);
                }
                Ok(if parts.len() == 1 {
                    parts.pop().expect("one part")
                } else {
                    RawCond::All(parts)
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawOp {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<RawOp, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, a list of values, or a map of operators (eq, in, not_in, contains, starts_with, ends_with, regex, cidr, gt, gte, lt, lte, exists, external_domain, all_values)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawOp, E> {
                Ok(RawOp::Equals(Yaml::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawOp, E> {
                Ok(RawOp::Equals(Yaml::Number(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawOp, E> {
                Ok(RawOp::Equals(Yaml::Number(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawOp, E> {
                Ok(RawOp::Equals(Yaml::Number(v.into())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawOp, E> {
                Ok(RawOp::Equals(Yaml::String(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawOp, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Yaml>()? {
                    items.push(v);
                }
                Ok(RawOp::Equals(Yaml::Sequence(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawOp, A::Error> {
                OpMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| RawOp::Ops(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A literal to compare with, prepared for each kind of value.
#[derive(Clone, Debug)]
pub struct Lit {
    lower: String,
    /// An operation name: compared as [`same_operation`] (the UAL's `Update user.` is the Entra
    /// audit log's `Update user`).
    operation: bool,
    int: Option<i64>,
    ip: Option<IpAddr>,
    boolean: Option<bool>,
}

impl Lit {
    fn new(text: &str) -> Lit {
        let t = text.trim();
        Lit {
            lower: t.to_lowercase(),
            operation: false,
            int: t.parse().ok(),
            ip: t.parse().ok(),
            boolean: match t.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
        }
    }

    /// A literal compared with the values of `field`.
    fn for_field(text: &str, field: &Field) -> Lit {
        Lit {
            operation: *field == Field::Operation,
            ..Lit::new(text)
        }
    }

    fn equals(&self, v: Value<'_>) -> bool {
        match v {
            Value::Text(s) if self.operation => same_operation(s, &self.lower),
            Value::Text(s) => eq_ci(s, &self.lower),
            Value::Int(n) => self.int == Some(n),
            Value::Ip(ip) => self.ip == Some(ip),
            Value::Bool(b) => self.boolean == Some(b),
        }
    }
}

/// A numeric comparison.
#[derive(Clone, Copy, Debug)]
pub enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One compiled operator.
#[derive(Clone, Debug)]
pub enum Test {
    In(Vec<Lit>),
    NotIn(Vec<Lit>),
    Contains(Vec<String>),
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Regex(Regex),
    Cidr(Vec<IpNet>),
    Compare(Cmp, f64),
    ExternalDomain(bool),
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum Cond {
    /// Matches every event (a rule with no `match`).
    True,
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Field {
        field: Field,
        exists: Option<bool>,
        tests: Vec<Test>,
        all_values: bool,
    },
    /// A condition written in another rule language, plugged in beside the YAML rules.
    Plugin(std::sync::Arc<dyn Condition>),
}

/// A per-event condition written in another rule language than breachline's YAML (such as a
/// Sigma rule's detection, `--sigma`): the language's module compiles it, the engine only asks
/// whether an event matches.
pub trait Condition: Send + Sync + std::fmt::Debug {
    /// Whether the event satisfies the condition.
    fn matches(&self, v: &EventView<'_>, ctx: &MatchContext) -> bool;
}

/// A condition that cannot be built: what is wrong and the text to find it by in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct CondError {
    pub field: String,
    pub message: String,
    /// Text from the rule file near the problem, so the caller can give its line.
    pub near: String,
}

/// Text values of a literal: a scalar, or each item of a list; `$name` is the parameter's value.
fn texts(
    y: &Yaml,
    params: &Params,
    field: &Field,
    op: &str,
) -> Result<(Vec<String>, String), CondError> {
    let err = |message: String, near: String| CondError {
        field: format!("{field}.{op}"),
        message,
        near,
    };
    let resolved;
    let (y, near) = match y {
        Yaml::String(s) if s.starts_with('$') => {
            let name = &s[1..];
            resolved = params.value(name).ok_or_else(|| {
                err(
                    format!("`{s}` names no parameter of this rule (declare it under `params:`)"),
                    s.clone(),
                )
            })?;
            (&resolved, s.clone())
        }
        other => (other, scalar_text(other).unwrap_or_default()),
    };
    let one = |v: &Yaml| {
        scalar_text(v).ok_or_else(|| {
            err(
                format!(
                    "expected a text, number or true/false, found {}",
                    describe(v)
                ),
                near.clone(),
            )
        })
    };
    let out = match y {
        Yaml::Sequence(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>()?,
        other => vec![one(other)?],
    };
    Ok((out, near))
}

/// A YAML scalar as text.
pub fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What kind of YAML value this is, for error messages.
pub fn describe(y: &Yaml) -> &'static str {
    match y {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "true/false",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a text",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a map",
        Yaml::Tagged(_) => "a tagged value",
    }
}

impl RawCond {
    /// Resolves parameters, compiles regexes and parses networks.
    pub fn compile(&self, params: &Params) -> Result<Cond, CondError> {
        Ok(match self {
            RawCond::All(v) => Cond::All(
                v.iter()
                    .map(|c| c.compile(params))
                    .collect::<Result<_, _>>()?,
            ),
            RawCond::Any(v) => Cond::Any(
                v.iter()
                    .map(|c| c.compile(params))
                    .collect::<Result<_, _>>()?,
            ),
            RawCond::Not(c) => Cond::Not(Box::new(c.compile(params)?)),
            RawCond::Test(field, op) => match &**op {
                RawOp::Equals(y) => {
                    let (t, _) = texts(y, params, field, "eq")?;
                    Cond::Field {
                        field: field.clone(),
                        exists: None,
                        tests: vec![Test::In(
                            t.iter().map(|s| Lit::for_field(s, field)).collect(),
                        )],
                        all_values: false,
                    }
                }
                RawOp::Ops(m) => {
                    let mut tests = Vec::new();
                    let lower = |v: Vec<String>| {
                        v.into_iter().map(|s| s.to_lowercase()).collect::<Vec<_>>()
                    };
                    for (op, y) in [("eq", &m.eq), ("in", &m.in_list)] {
                        if let Some(y) = y {
                            let (t, _) = texts(y, params, field, op)?;
                            tests.push(Test::In(
                                t.iter().map(|s| Lit::for_field(s, field)).collect(),
                            ));
                        }
                    }
                    if let Some(y) = &m.not_in {
                        let (t, _) = texts(y, params, field, "not_in")?;
                        tests.push(Test::NotIn(
                            t.iter().map(|s| Lit::for_field(s, field)).collect(),
                        ));
                    }
                    if let Some(y) = &m.contains {
                        tests.push(Test::Contains(lower(
                            texts(y, params, field, "contains")?.0,
                        )));
                    }
                    if let Some(y) = &m.starts_with {
                        tests.push(Test::StartsWith(lower(
                            texts(y, params, field, "starts_with")?.0,
                        )));
                    }
                    if let Some(y) = &m.ends_with {
                        tests.push(Test::EndsWith(lower(
                            texts(y, params, field, "ends_with")?.0,
                        )));
                    }
                    if let Some(y) = &m.regex {
                        let (t, near) = texts(y, params, field, "regex")?;
                        let pattern = if t.len() == 1 {
                            t[0].clone()
                        } else {
                            t.iter()
                                .map(|p| format!("(?:{p})"))
                                .collect::<Vec<_>>()
                                .join("|")
                        };
                        let re = Regex::new(&format!("(?i){pattern}")).map_err(|e| CondError {
                            field: format!("{field}.regex"),
                            message: format!("not a valid regular expression: {e}"),
                            near,
                        })?;
                        tests.push(Test::Regex(re));
                    }
                    if let Some(y) = &m.cidr {
                        let (t, near) = texts(y, params, field, "cidr")?;
                        let nets = t
                        .iter()
                        .map(|s| {
                            s.trim()
                                .parse::<IpNet>()
                                .or_else(|_| s.trim().parse::<IpAddr>().map(IpNet::from))
                                .map_err(|_| CondError {
                                    field: format!("{field}.cidr"),
                                    message: format!("expected a network such as 10.0.0.0/8 or 2001:db8::/32, found {s:?}"),
                                    near: near.clone(),
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                        tests.push(Test::Cidr(nets));
                    }
                    for (op, cmp, y) in [
                        ("gt", Cmp::Gt, &m.gt),
                        ("gte", Cmp::Gte, &m.gte),
                        ("lt", Cmp::Lt, &m.lt),
                        ("lte", Cmp::Lte, &m.lte),
                    ] {
                        if let Some(y) = y {
                            let (t, near) = texts(y, params, field, op)?;
                            let n = match t.as_slice() {
                                [one] => one.trim().parse::<f64>().ok(),
                                _ => None,
                            };
                            let n = n.ok_or_else(|| CondError {
                                field: format!("{field}.{op}"),
                                message: format!("expected one number, found {t:?}"),
                                near,
                            })?;
                            tests.push(Test::Compare(cmp, n));
                        }
                    }
                    if let Some(b) = m.external_domain {
                        tests.push(Test::ExternalDomain(b));
                    }
                    if tests.is_empty() && m.exists.is_none() {
                        return Err(CondError {
                            field: field.to_string(),
                            message: "the test names no operator".into(),
                            near: field.to_string(),
                        });
                    }
                    Cond::Field {
                        field: field.clone(),
                        exists: m.exists,
                        tests,
                        all_values: m.all_values,
                    }
                }
            },
        })
    }

    /// What an event must be for this condition to hold at all: lets the engine skip most
    /// events without evaluating the condition.
    pub fn prefilter(&self) -> Prefilter {
        Prefilter {
            operations: self
                .required(&Field::Operation)
                .map(|v| v.into_iter().map(|s| s.to_lowercase()).collect()),
            sources: self.required(&Field::Source).map(|v| {
                v.iter()
                    .filter_map(|s| {
                        crate::model::Source::ALL
                            .into_iter()
                            .find(|x| x.as_str().eq_ignore_ascii_case(s))
                    })
                    .collect()
            }),
            outcomes: self.required(&Field::Outcome).map(|v| {
                use crate::model::Outcome;
                v.iter()
                    .filter_map(|s| {
                        [
                            Outcome::Success,
                            Outcome::Failure,
                            Outcome::Interrupted,
                            Outcome::Unknown,
                        ]
                        .into_iter()
                        .find(|x| x.as_str().eq_ignore_ascii_case(s))
                    })
                    .collect()
            }),
        }
    }

    /// The condition less the top-level tests its [`Prefilter`] already decides, so that an
    /// event that passed the prefilter is not asked the same question again.
    pub fn without_prefiltered(&self) -> RawCond {
        let decided = |c: &RawCond, field: &Field| match c {
            RawCond::Test(f, _) if f == field => c.required(field).is_some(),
            _ => false,
        };
        let fields = [Field::Source, Field::Outcome, Field::Operation];
        match self {
            RawCond::All(parts) => {
                let mut keep: Vec<RawCond> = parts.clone();
                for field in &fields {
                    // The prefilter took the first part that names the field; drop it only when
                    // that part is the plain test itself.
                    if let Some(k) = keep.iter().position(|p| p.required(field).is_some()) {
                        if decided(&keep[k], field) {
                            keep.remove(k);
                        }
                    }
                }
                RawCond::All(keep)
            }
            single if fields.iter().any(|f| decided(single, f)) => RawCond::All(Vec::new()),
            other => other.clone(),
        }
    }

    /// The values `field` must equal (one of) for the condition to hold, when the condition
    /// says so plainly: a top-level equals / in-list test, or the same in every branch of `any`.
    fn required(&self, field: &Field) -> Option<Vec<String>> {
        match self {
            RawCond::All(parts) => parts.iter().find_map(|p| p.required(field)),
            RawCond::Any(parts) if !parts.is_empty() => {
                let mut all = Vec::new();
                for p in parts {
                    all.extend(p.required(field)?);
                }
                Some(all)
            }
            RawCond::Test(f, op) if f == field => {
                let y = match &**op {
                    RawOp::Equals(y) => y,
                    RawOp::Ops(m) => match (&m.eq, &m.in_list) {
                        (Some(y), None) | (None, Some(y)) => y,
                        _ => return None,
                    },
                };
                match y {
                    Yaml::String(s) if !s.starts_with('$') => Some(vec![s.clone()]),
                    Yaml::Sequence(items) => items
                        .iter()
                        .map(|i| match i {
                            Yaml::String(s) if !s.starts_with('$') => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A cheap test an event must pass before its condition is evaluated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prefilter {
    /// Operations, when the condition requires one of them; compared as [`same_operation`].
    pub operations: Option<Vec<String>>,
    pub sources: Option<Vec<crate::model::Source>>,
    pub outcomes: Option<Vec<crate::model::Outcome>>,
}

impl Prefilter {
    /// Whether an event can pass: source, outcome and operation, the cheap tests first.
    #[inline]
    pub fn passes(&self, e: &crate::model::Event) -> bool {
        self.sources.as_ref().is_none_or(|s| s.contains(&e.source))
            && self
                .outcomes
                .as_ref()
                .is_none_or(|o| o.contains(&e.outcome))
            && self.operation_ok(&e.operation)
    }

    /// Whether an operation can pass ([`same_operation`]: the unified audit log's `Update user.`
    /// is the Entra audit log's `Update user`).
    pub fn operation_ok(&self, op: &str) -> bool {
        self.operations
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|o| same_operation(op, o)))
    }
}

/// Whether two operation names are the same activity ([`crate::model::operation_eq`]).
#[inline]
pub fn same_operation(a: &str, b: &str) -> bool {
    crate::model::operation_eq(a, b)
}

// Case-insensitive comparisons. A rule's text that is ASCII (nearly all of it) compares with
// ASCII case folding straight on the bytes: no scan of the value first, no allocation. Other
// text is compared after full Unicode lower-casing.

fn eq_ci(value: &str, lower: &str) -> bool {
    if lower.is_ascii() {
        value.len() == lower.len() && value.as_bytes().eq_ignore_ascii_case(lower.as_bytes())
    } else {
        value.to_lowercase() == lower
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if h.len() < n.len() {
            return false;
        }
        // Candidates start where the first byte matches in either case; compare the rest there.
        let (lo, up) = (n[0].to_ascii_lowercase(), n[0].to_ascii_uppercase());
        let last_start = h.len() - n.len();
        memchr::memchr2_iter(lo, up, &h[..=last_start])
            .any(|i| h[i + 1..i + n.len()].eq_ignore_ascii_case(&n[1..]))
    } else {
        hay.to_lowercase().contains(needle)
    }
}

fn starts_ci(hay: &str, needle: &str) -> bool {
    if needle.is_ascii() {
        hay.len() >= needle.len()
            && hay.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
    } else {
        hay.to_lowercase().starts_with(needle)
    }
}

fn ends_ci(hay: &str, needle: &str) -> bool {
    if needle.is_ascii() {
        hay.len() >= needle.len()
            && hay.as_bytes()[hay.len() - needle.len()..].eq_ignore_ascii_case(needle.as_bytes())
    } else {
        hay.to_lowercase().ends_with(needle)
    }
}

impl Test {
    fn holds(&self, v: Value<'_>, ctx: &MatchContext) -> bool {
        let with_text = |f: &dyn Fn(&str) -> bool| match v {
            Value::Text(s) => f(s),
            other => f(&other.to_text()),
        };
        match self {
            Test::In(lits) => lits.iter().any(|l| l.equals(v)),
            Test::NotIn(lits) => !lits.iter().any(|l| l.equals(v)),
            Test::Contains(n) => with_text(&|s| n.iter().any(|n| contains_ci(s, n))),
            Test::StartsWith(n) => with_text(&|s| n.iter().any(|n| starts_ci(s, n))),
            Test::EndsWith(n) => with_text(&|s| n.iter().any(|n| ends_ci(s, n))),
            Test::Regex(re) => with_text(&|s| re.is_match(s)),
            Test::Cidr(nets) => {
                let ip = match v {
                    Value::Ip(ip) => Some(ip),
                    Value::Text(s) => s.trim().parse().ok(),
                    _ => None,
                };
                ip.is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }
            Test::Compare(cmp, n) => {
                let x = match v {
                    Value::Int(i) => Some(i as f64),
                    Value::Text(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                x.is_some_and(|x| match cmp {
                    Cmp::Gt => x > *n,
                    Cmp::Gte => x >= *n,
                    Cmp::Lt => x < *n,
                    Cmp::Lte => x <= *n,
                })
            }
            Test::ExternalDomain(want) => match v {
                Value::Text(s) => s.contains('@') && ctx.is_external(s) == *want,
                _ => false,
            },
        }
    }
}

impl Cond {
    /// Whether the event satisfies the condition.
    pub fn matches(&self, v: &EventView<'_>, ctx: &MatchContext) -> bool {
        match self {
            Cond::True => true,
            Cond::All(parts) => parts.iter().all(|c| c.matches(v, ctx)),
            Cond::Any(parts) => parts.iter().any(|c| c.matches(v, ctx)),
            Cond::Not(c) => !c.matches(v, ctx),
            Cond::Plugin(c) => c.matches(v, ctx),
            Cond::Field {
                field,
                exists,
                tests,
                all_values,
            } => {
                if let Some(want) = exists {
                    if field.any(v, |_| true) != *want {
                        return false;
                    }
                }
                tests.iter().all(|t| {
                    if *all_values {
                        field.all(v, |x| t.holds(x, ctx))
                    } else {
                        field.any(v, |x| t.holds(x, ctx))
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::field::Role;
    use crate::model::{Event, Source};

    fn cond(yaml: &str) -> Cond {
        let raw: RawCond = serde_yaml_ng::from_str(yaml).expect("test condition parses");
        raw.compile(&Params::default())
            .expect("test condition compiles")
    }

    fn event() -> Event {
        let mut e = Event::new(
            chrono::Utc::now(),
            Source::Audit,
            "a@contoso.example".into(),
            "New-InboxRule".into(),
        );
        e.ip = "188.166.14.77".parse().ok();
        e.attrs
            .push(("param.MoveToFolder".into(), "RSS Subscriptions".into()));
        e.attrs
            .push(("param.ForwardTo".into(), "x@evil.example".into()));
        e.attrs.push(("operation_count".into(), "12".into()));
        e
    }

    fn check(yaml: &str, expected: bool) {
        let e = event();
        let v = EventView {
            event: &e,
            ip: None,
            role: Role::Actor,
            everyday: false,
        };
        let mut ctx = MatchContext::default();
        ctx.tenant_domains.insert("contoso.example".into());
        assert_eq!(cond(yaml).matches(&v, &ctx), expected, "{yaml}");
    }

    #[test]
    fn operators() {
        check("operation: new-inboxrule", true);
        check("operation: [Set-InboxRule, New-InboxRule]", true);
        check("operation: Set-InboxRule", false);
        check("attr.param.MoveToFolder: {contains: rss}", true);
        check(
            "attr.param.MoveToFolder: {starts_with: RSS, ends_with: subscriptions}",
            true,
        );
        check("attr.param.MoveToFolder: {regex: '^(rss|notes)'}", true);
        check("attr.param.MoveToFolder: {regex: '^notes'}", false);
        check("ip: {cidr: [188.166.0.0/16]}", true);
        check("ip: {cidr: 10.0.0.0/8}", false);
        check("attr.operation_count: {gte: 12}", true);
        check("attr.operation_count: {gt: 12}", false);
        check("attr.param.ForwardTo: {external_domain: true}", true);
        check("user: {external_domain: true}", false);
        check("device_id: {exists: false}", true);
        check("{not: {operation: New-InboxRule}}", false);
        check(
            "{any: [{operation: x}, {attr.param.MoveToFolder: {in: [rss subscriptions]}}]}",
            true,
        );
        check(
            "{operation: New-InboxRule, attr.param.MoveToFolder: Inbox}",
            false,
        );
        check("operation: {not_in: [Set-InboxRule]}", true);
    }

    #[test]
    fn operations_compare_across_the_ual_and_entra_copies() {
        for (a, b) in [
            ("Update user.", "Update user"),
            ("update user", "Update user."),
            (" Add member to role. ", "Add member to role"),
            (
                "Update application \u{2013} Certificates and secrets management ",
                "Update application - Certificates and secrets management",
            ),
            (
                "Update application \u{2013} Certificates and secrets management ",
                "update application \u{2013} certificates and secrets management.",
            ),
        ] {
            assert!(same_operation(a, b), "{a:?} = {b:?}");
            assert!(same_operation(b, a), "{b:?} = {a:?}");
        }
        for (a, b) in [
            ("Update user", "Update users"),
            ("Update user..", "Update user"),
            ("Add member to role", "Add member to group"),
            ("Update application \u{2013} x", "Update application x"),
            ("", "Update user"),
        ] {
            assert!(!same_operation(a, b), "{a:?} != {b:?}");
        }
        // Conditions and the prefilter agree.
        let raw: RawCond =
            serde_yaml_ng::from_str("operation: [Add member to role.]").expect("parses");
        let pre = raw.prefilter();
        assert!(pre.operation_ok("Add member to role"));
        assert!(pre.operation_ok("add member to role."));
        assert!(!pre.operation_ok("Add member to role completed (PIM activation)"));
        let c = raw.compile(&Params::default()).expect("compiles");
        let mut e = event();
        e.operation = "Add member to role".into();
        let v = EventView {
            event: &e,
            ip: None,
            role: Role::Actor,
            everyday: false,
        };
        assert!(c.matches(&v, &MatchContext::default()));
        let c = cond("operation: {not_in: [Update user.]}");
        e.operation = "Update user".into();
        let v = EventView {
            event: &e,
            ip: None,
            role: Role::Actor,
            everyday: false,
        };
        assert!(!c.matches(&v, &MatchContext::default()));
    }

    #[test]
    fn tests_the_prefilter_decides_are_not_asked_again() {
        let raw: RawCond = serde_yaml_ng::from_str(
            "{source: [signin], outcome: success, device_id: {exists: false}}",
        )
        .expect("parses");
        let pre = raw.prefilter();
        assert_eq!(pre.sources, Some(vec![Source::Signin]));
        assert_eq!(pre.outcomes, Some(vec![crate::model::Outcome::Success]));
        match raw.without_prefiltered() {
            RawCond::All(rest) => assert!(
                matches!(rest.as_slice(), [RawCond::Test(Field::DeviceId, _)]),
                "{rest:?}"
            ),
            other => panic!("{other:?}"),
        }
        // An `any` gives a prefilter (the union) but keeps its branches.
        let raw: RawCond =
            serde_yaml_ng::from_str("{any: [{operation: a}, {operation: b, object: x}]}")
                .expect("parses");
        assert_eq!(
            raw.prefilter().operations,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(raw.without_prefiltered(), raw);
    }

    #[test]
    fn unknown_operator_and_field_are_errors_with_a_line() {
        let err = serde_yaml_ng::from_str::<RawCond>(
            "all:\n  - operation: x\n  - attr.a: {containz: y}\n",
        )
        .expect_err("unknown operator");
        assert!(err.to_string().contains("containz"), "{err}");
        assert_eq!(err.location().map(|l| l.line()), Some(3), "{err}");
        let err = serde_yaml_ng::from_str::<RawCond>("all:\n  - operation: x\n  - ip.cuntry: NL\n")
            .expect_err("unknown field");
        assert!(err.to_string().contains("ip.cuntry"), "{err}");
        assert!(err.location().is_some());
    }

    #[test]
    fn bad_regex_and_missing_parameter_are_errors() {
        let raw: RawCond = serde_yaml_ng::from_str("object: {regex: '(unclosed'}").expect("parses");
        assert!(raw.compile(&Params::default()).is_err());
        let raw: RawCond = serde_yaml_ng::from_str("object: {in: $words}").expect("parses");
        let err = raw
            .compile(&Params::default())
            .expect_err("no such parameter");
        assert!(err.message.contains("$words"));
    }
}
