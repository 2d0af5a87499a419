//! The rule file: one YAML document per rule, read with every unknown key refused, then
//! checked (parameters resolved, regexes compiled, the logic complete) into a [`Rule`].
//!
//! The format is documented in `docs/rules.md`; the built-in rules are in `rules/`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as Yaml;

use super::field::{Field, Role};
use super::matcher::{describe, scalar_text, Cond, CondError, Prefilter, RawCond};

/// How bad a finding is. Ordered: `Informational < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    /// A severity by its [`Severity::as_str`] name, in any case.
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Severity::ALL.iter().map(|x| x.as_str()).collect();
                format!("unknown severity `{s}` (expected {})", names.join(", "))
            })
    }
}

/// A rule file that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The YAML does not have the rule's shape (unknown key, wrong type, missing key).
    #[error("{file}{}: {message}", line_text(*line))]
    Parse {
        file: String,
        line: Option<u64>,
        message: String,
    },
    /// The shape is right but a value is not usable.
    #[error("{file}{}, field `{field}`: {message}", line_text(*line))]
    Invalid {
        file: String,
        line: Option<u64>,
        field: String,
        message: String,
    },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

fn line_text(line: Option<u64>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// A tunable value of a rule, with the reason for its default.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    pub default: Yaml,
    /// Why the default is what it is (shown by `rules show`).
    pub reason: String,
}

/// Parameter values in force for one rule: the defaults, then any overrides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, Yaml>,
}

impl Params {
    pub fn value(&self, name: &str) -> Option<Yaml> {
        self.values.get(name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Yaml)> {
        self.values.iter()
    }
}

/// What a threshold adds up per event.
#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    /// One per event.
    Events,
    /// The items an event stands for: `attr.operation_count` when the record is an aggregate,
    /// else the number of `attr.message_id` values, else one.
    Items,
    /// Distinct values of a field within the window.
    Distinct(Field),
}

/// A detector over the user's own history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// A value of `field` the user had not shown before (after a learning period).
    FirstSeen,
    /// Two places too far apart for the time between them.
    ImpossibleTravel,
    /// Two different sessions active at about the same time from distant places.
    ConcurrentSessions,
}

impl Detector {
    /// The parameters the detector reads; a rule must declare each (with its reason).
    pub fn required_params(self) -> &'static [&'static str] {
        match self {
            Detector::FirstSeen => &["learn"],
            Detector::ImpossibleTravel => {
                &["max_speed_kmh", "min_distance_km", "exempt_same_device_isp"]
            }
            Detector::ConcurrentSessions => {
                &["within", "min_distance_km", "exempt_same_device_isp"]
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdDef {
    /// `events`, `items` or `distinct FIELD`.
    #[serde(default = "default_count")]
    count: String,
    min: Yaml,
    window: Yaml,
    /// A burst must also reach this many times the account's usual daily peak.
    #[serde(default)]
    history_factor: Option<Yaml>,
}

fn default_count() -> String {
    "events".into()
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDef {
    #[serde(rename = "match")]
    when: RawCond,
    #[serde(default)]
    min: Option<Yaml>,
    #[serde(default)]
    roles: Option<Vec<Role>>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceDef {
    first: StepDef,
    then: StepDef,
    within: Yaml,
    #[serde(default)]
    same: Vec<Field>,
    #[serde(default)]
    differ_any: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstDef {
    #[serde(default)]
    gap: Option<Yaml>,
    #[serde(default)]
    escalate: Option<EscalateDef>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateDef {
    min: Yaml,
    severity: Severity,
}

/// How a per-event rule's matches for one account become findings: matches no further apart
/// than `gap` are one burst and one finding (with a count, first and last time and every
/// evidence row); a burst of at least `escalate.0` matches gets severity `escalate.1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Burst {
    pub gap: Duration,
    pub escalate: Option<(u64, Severity)>,
}

impl Default for Burst {
    fn default() -> Self {
        Burst {
            gap: Duration::hours(1),
            escalate: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineDef {
    detector: Detector,
    #[serde(default)]
    field: Option<Field>,
}

/// One test case inside a rule file: a few events, and whether the rule must fire on them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    pub name: String,
    /// `fire`, `no-fire`, or the number of findings.
    pub expect: Yaml,
    /// Events as maps of normalized field names (`time`, `user`, `operation`, `attr.x`,
    /// `ip.network`...).
    pub events: Vec<BTreeMap<String, Yaml>>,
}

/// What a test case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Fire,
    NoFire,
    Count(usize),
}

impl RuleTest {
    pub fn expectation(&self) -> Result<Expect, String> {
        match &self.expect {
            Yaml::String(s) if s == "fire" => Ok(Expect::Fire),
            Yaml::String(s) if s == "no-fire" => Ok(Expect::NoFire),
            Yaml::Number(n) => n
                .as_u64()
                .map(|n| Expect::Count(n as usize))
                .ok_or_else(|| format!("expected fire, no-fire or a count of findings, found {n}")),
            other => Err(format!(
                "expected fire, no-fire or a count of findings, found {}",
                scalar_text(other).unwrap_or_else(|| describe(other).to_string())
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    title: String,
    severity: Severity,
    description: String,
    why: String,
    #[serde(default)]
    mitre: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    params: BTreeMap<String, ParamDef>,
    #[serde(default)]
    roles: Option<Vec<Role>>,
    #[serde(rename = "match", default)]
    when: Option<RawCond>,
    #[serde(default)]
    group_by: Vec<Field>,
    #[serde(default)]
    threshold: Option<ThresholdDef>,
    #[serde(default)]
    sequence: Option<SequenceDef>,
    #[serde(default)]
    baseline: Option<BaselineDef>,
    #[serde(default)]
    burst: Option<BurstDef>,
    #[serde(default)]
    seeds: Option<bool>,
    summary: String,
    #[serde(default)]
    tests: Vec<RuleTest>,
}

/// A compiled step of a sequence.
#[derive(Clone, Debug)]
pub struct Step {
    pub when: Cond,
    pub prefilter: Prefilter,
    pub min: u64,
    pub roles: Vec<Role>,
}

/// The logic of a rule, compiled. One per rule, so the size difference between the variants
/// (a sequence holds two compiled conditions) costs nothing worth boxing for.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Logic {
    /// Every matching event is evidence; findings are grouped by `group_by` (or one per event).
    Event,
    Threshold {
        count: Count,
        min: f64,
        window: Duration,
        /// Set: a burst must also reach this many times the account's own usual daily peak
        /// (on other days), so a heavy reader's ordinary day is not a finding.
        history: Option<f64>,
    },
    Sequence {
        first: Step,
        then: Step,
        within: Duration,
        same: Vec<Field>,
        differ_any: Vec<Field>,
    },
    Baseline {
        detector: Detector,
        field: Option<Field>,
    },
    /// Every step matched within `within` (in the steps' order when `ordered`): Sigma's
    /// `temporal` and `temporal_ordered` correlations.
    Temporal {
        steps: Vec<Step>,
        within: Duration,
        ordered: bool,
    },
}

impl Logic {
    pub fn kind(&self) -> &'static str {
        match self {
            Logic::Event => "event",
            Logic::Threshold { .. } => "threshold",
            Logic::Sequence { .. } => "sequence",
            Logic::Baseline { .. } => "baseline",
            Logic::Temporal { .. } => "temporal",
        }
    }
}

/// The metadata of a rule written in another rule language, plugged in beside the YAML rules
/// (a Sigma rule's id, level, status and tags): `rules list --json` shows it, and the rule's
/// findings carry part of it in their details, both under the language's [`ForeignMeta::key`].
pub trait ForeignMeta: Send + Sync + fmt::Debug + std::any::Any {
    /// The key the metadata is shown under (`sigma`).
    fn key(&self) -> &'static str;
    /// All of it, field by field in order, for `rules list --json`.
    fn fields(&self) -> Vec<(&'static str, serde_json::Value)>;
    /// What each finding of the rule carries in its details.
    fn finding_details(&self) -> serde_json::Value;
    /// For the language's own module to get its type back ([`Foreign::get`]).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A rule's [`ForeignMeta`]; serialized as one entry, `key: metadata`.
#[derive(Clone, Debug)]
pub struct Foreign(pub std::sync::Arc<dyn ForeignMeta>);

impl Foreign {
    pub fn new(meta: impl ForeignMeta) -> Foreign {
        Foreign(std::sync::Arc::new(meta))
    }

    /// The metadata as the language's own type, when it is that type.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for Foreign {
    fn eq(&self, other: &Foreign) -> bool {
        self.0.key() == other.0.key() && self.0.fields() == other.0.fields()
    }
}

impl Serialize for Foreign {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Fields(Vec<(&'static str, serde_json::Value)>);
        impl Serialize for Fields {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in &self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0.key(), &Fields(self.0.fields()))?;
        m.end()
    }
}

/// The descriptive part of a rule, as `rules list` / `rules show` print it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub why: String,
    pub mitre: Vec<String>,
    pub references: Vec<String>,
    pub params: BTreeMap<String, ParamDef>,
    /// Where the rule was read from (`rules/inbox-rule.yaml (built in)` or a path).
    pub file: String,
    pub kind: &'static str,
    /// Set for a rule written in another rule language (a Sigma rule, `--sigma`): its own
    /// metadata, listed under the language's key.
    #[serde(flatten)]
    pub foreign: Option<Foreign>,
    /// Whether the evidence's addresses, sessions and tokens may seed the attacker's footprint
    /// (`seeds: false`: the evidence is the victim's own action, such as granting consent to a
    /// malicious app; the finding still counts towards the verdict).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_seed: bool,
}

/// A rule ready to run.
#[derive(Clone, Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub roles: Vec<Role>,
    pub when: Cond,
    /// What an event must be for `when` to hold (a fast pre-check).
    pub prefilter: Prefilter,
    pub group_by: Vec<Field>,
    pub logic: Logic,
    /// How per-event matches are gathered into findings (per-event rules only).
    pub burst: Burst,
    pub summary: String,
    pub params: Params,
    pub tests: Vec<RuleTest>,
    /// The YAML text, for `rules show`.
    pub source: String,
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    /// A parameter as a number (detectors read theirs this way).
    pub fn number(&self, name: &str) -> Result<f64, RuleError> {
        let v = self.params.value(name);
        number(v.as_ref(), name).map_err(|message| RuleError::Invalid {
            file: self.meta.file.clone(),
            line: line_of(&self.source, name),
            field: format!("params.{name}"),
            message,
        })
    }

    /// A parameter as a duration.
    pub fn duration(&self, name: &str) -> Result<Duration, RuleError> {
        let v = self.params.value(name);
        duration(v.as_ref()).map_err(|message| RuleError::Invalid {
            file: self.meta.file.clone(),
            line: line_of(&self.source, name),
            field: format!("params.{name}"),
            message,
        })
    }

    /// A parameter as true/false.
    pub fn flag(&self, name: &str) -> Result<bool, RuleError> {
        match self.params.value(name) {
            Some(Yaml::Bool(b)) => Ok(b),
            other => Err(RuleError::Invalid {
                file: self.meta.file.clone(),
                line: line_of(&self.source, name),
                field: format!("params.{name}"),
                message: format!(
                    "expected true or false, found {}",
                    other.as_ref().map(describe).unwrap_or("nothing")
                ),
            }),
        }
    }
}

/// The first line (1-based) of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> Option<u64> {
    if needle.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
}

fn number(v: Option<&Yaml>, what: &str) -> Result<f64, String> {
    match v {
        Some(Yaml::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("{what}: expected a number")),
        Some(Yaml::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected a number, found {s:?}")),
        Some(other) => Err(format!("expected a number, found {}", describe(other))),
        None => Err("missing: expected a number".into()),
    }
}

/// Parses `90s`, `30m`, `2h`, `7d` (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    (secs >= 0.0 && secs.is_finite()).then(|| Duration::milliseconds((secs * 1000.0) as i64))
}

fn duration(v: Option<&Yaml>) -> Result<Duration, String> {
    let text = v.and_then(scalar_text).unwrap_or_default();
    parse_duration(&text)
        .ok_or_else(|| format!("expected a duration such as 90s, 30m, 2h or 7d, found {text:?}"))
}

/// Writes a duration back the way rule files do (`30m`, `2h`, `7d`).
pub fn format_duration(d: Duration) -> String {
    let s = d.num_seconds();
    if s != 0 && s % 86400 == 0 {
        format!("{}d", s / 86400)
    } else if s != 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Drops serde_yaml's own " at line L column C" from a message we give a line of our own.
fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Reads one rule file. `overrides` are parameter values to use instead of the defaults
/// (`--param RULE.NAME=VALUE`); naming a parameter the rule does not have is an error.
pub fn parse(
    file: &str,
    text: &str,
    overrides: &BTreeMap<String, Yaml>,
) -> Result<Rule, RuleError> {
    let def: RuleDef = serde_yaml_ng::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let mut line = e.location().map(|l| l.line() as u64);
        // An unknown key is reported at the start of its map; point at the key itself.
        if let Some(name) = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.starts_with("unknown field") || msg.contains(": unknown field"))
        {
            let from = line.unwrap_or(1) as usize;
            if let Some(i) = text
                .lines()
                .skip(from.saturating_sub(1))
                .position(|l| l.trim_start().trim_start_matches("- ").starts_with(&format!("{name}:")))
            {
                line = Some((from + i) as u64);
            }
        }
        let mut message = strip_position(&msg);
        if message.contains("unknown field") && !message.contains("expected") {
            message.push_str(&format!(
                "; a rule has id, title, severity, description, why, mitre, references, params, roles, match, group_by, threshold | sequence | baseline, burst, seeds, summary, tests; field names are {}",
                "the normalized columns, attr.<name> or ip.<fact> (docs/rules.md)"
            ));
        }
        if text.contains("\nlogsource:") && text.contains("\ndetection:") {
            message.push_str(" (this looks like a Sigma rule: pass it with --sigma PATH)");
        }
        RuleError::Parse {
            file: file.to_string(),
            line,
            message,
        }
    })?;
    compile(file, text, def, overrides)
}

fn compile(
    file: &str,
    text: &str,
    def: RuleDef,
    overrides: &BTreeMap<String, Yaml>,
) -> Result<Rule, RuleError> {
    let invalid = |field: &str, near: &str, message: String| RuleError::Invalid {
        file: file.to_string(),
        line: line_of(text, near),
        field: field.to_string(),
        message,
    };
    let valid_id = !def.id.is_empty()
        && def
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(invalid(
            "id",
            "id:",
            format!(
                "expected lower-case letters, digits and '-', found {:?}",
                def.id
            ),
        ));
    }
    let mut values: BTreeMap<String, Yaml> = def
        .params
        .iter()
        .map(|(k, p)| (k.clone(), p.default.clone()))
        .collect();
    for (k, v) in overrides {
        if !values.contains_key(k) {
            return Err(invalid(
                "params",
                "params:",
                format!(
                    "no parameter `{k}` to override; this rule has: {}",
                    if values.is_empty() {
                        "none".to_string()
                    } else {
                        values.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            ));
        }
        values.insert(k.clone(), v.clone());
    }
    let params = Params { values };
    let cond_err = |e: CondError| RuleError::Invalid {
        file: file.to_string(),
        line: line_of(text, &e.near),
        field: e.field,
        message: e.message,
    };
    let resolve = |y: &Yaml| -> Yaml {
        match y {
            Yaml::String(s) if s.starts_with('$') => params.value(&s[1..]).unwrap_or(Yaml::Null),
            other => other.clone(),
        }
    };
    let ref_ok = |y: &Yaml, field: &str| -> Result<(), RuleError> {
        match y {
            Yaml::String(s) if s.starts_with('$') && params.value(&s[1..]).is_none() => {
                Err(invalid(
                    field,
                    s,
                    format!("`{s}` names no parameter of this rule (declare it under `params:`)"),
                ))
            }
            _ => Ok(()),
        }
    };
    let when = match &def.when {
        Some(c) => c.without_prefiltered().compile(&params).map_err(cond_err)?,
        None => Cond::True,
    };
    let prefilter = def.when.as_ref().map(|c| c.prefilter()).unwrap_or_default();
    let roles = def.roles.clone().unwrap_or_else(|| vec![Role::Actor]);
    let shapes = [
        def.threshold.is_some(),
        def.sequence.is_some(),
        def.baseline.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if shapes > 1 {
        return Err(invalid(
            "threshold",
            "threshold:",
            "a rule has at most one of threshold, sequence and baseline".into(),
        ));
    }
    let logic = if let Some(t) = &def.threshold {
        ref_ok(&t.min, "threshold.min")?;
        ref_ok(&t.window, "threshold.window")?;
        let count = match t.count.trim() {
            "events" => Count::Events,
            "items" => Count::Items,
            other => match other.strip_prefix("distinct ") {
                Some(f) => Count::Distinct(
                    Field::parse(f.trim()).map_err(|m| invalid("threshold.count", "count:", m))?,
                ),
                None => {
                    return Err(invalid(
                        "threshold.count",
                        "count:",
                        format!("expected events, items or distinct FIELD, found {other:?}"),
                    ))
                }
            },
        };
        let min = number(Some(&resolve(&t.min)), "min")
            .map_err(|m| invalid("threshold.min", "min:", m))?;
        let window = duration(Some(&resolve(&t.window)))
            .map_err(|m| invalid("threshold.window", "window:", m))?;
        if def.when.is_none() {
            return Err(invalid(
                "match",
                "threshold:",
                "a threshold needs a `match` saying which events it counts".into(),
            ));
        }
        let history = match &t.history_factor {
            Some(y) => {
                ref_ok(y, "threshold.history_factor")?;
                Some(
                    number(Some(&resolve(y)), "history_factor")
                        .map_err(|m| invalid("threshold.history_factor", "history_factor:", m))?,
                )
            }
            None => None,
        };
        Logic::Threshold {
            count,
            min,
            window,
            history,
        }
    } else if let Some(s) = &def.sequence {
        ref_ok(&s.within, "sequence.within")?;
        let step = |st: &StepDef, name: &str| -> Result<Step, RuleError> {
            let min = match &st.min {
                Some(y) => {
                    ref_ok(y, &format!("sequence.{name}.min"))?;
                    number(Some(&resolve(y)), "min")
                        .map_err(|m| invalid(&format!("sequence.{name}.min"), "min:", m))?
                        as u64
                }
                None => 1,
            };
            Ok(Step {
                when: st
                    .when
                    .without_prefiltered()
                    .compile(&params)
                    .map_err(cond_err)?,
                prefilter: st.when.prefilter(),
                min: min.max(1),
                roles: st.roles.clone().unwrap_or_else(|| roles.clone()),
            })
        };
        Logic::Sequence {
            first: step(&s.first, "first")?,
            then: step(&s.then, "then")?,
            within: duration(Some(&resolve(&s.within)))
                .map_err(|m| invalid("sequence.within", "within:", m))?,
            same: s.same.clone(),
            differ_any: s.differ_any.clone(),
        }
    } else if let Some(b) = &def.baseline {
        for p in b.detector.required_params() {
            if params.value(p).is_none() {
                return Err(invalid(
                    "params",
                    "baseline:",
                    format!("the {:?} detector reads parameter `{p}`: declare it under `params:` with a default and a reason", b.detector),
                ));
            }
        }
        if b.detector == Detector::FirstSeen && b.field.is_none() {
            return Err(invalid(
                "baseline.field",
                "baseline:",
                "first-seen needs `field:` (the value that is new for the user)".into(),
            ));
        }
        Logic::Baseline {
            detector: b.detector,
            field: b.field.clone(),
        }
    } else {
        if def.when.is_none() {
            return Err(invalid(
                "match",
                "id:",
                "a rule needs `match` (per-event), or `threshold`, `sequence` or `baseline`".into(),
            ));
        }
        Logic::Event
    };
    for t in &def.tests {
        t.expectation()
            .map_err(|m| invalid("tests.expect", &t.name, m))?;
    }
    let mut burst = Burst::default();
    if let Some(b) = &def.burst {
        if !matches!(logic, Logic::Event) || !def.group_by.is_empty() {
            return Err(invalid(
                "burst",
                "burst:",
                "`burst` is for per-event rules without `group_by`".into(),
            ));
        }
        if let Some(g) = &b.gap {
            ref_ok(g, "burst.gap")?;
            burst.gap = duration(Some(&resolve(g))).map_err(|m| invalid("burst.gap", "gap:", m))?;
        }
        if let Some(e) = &b.escalate {
            ref_ok(&e.min, "burst.escalate.min")?;
            let min = number(Some(&resolve(&e.min)), "min")
                .map_err(|m| invalid("burst.escalate.min", "min:", m))?;
            burst.escalate = Some((min.max(1.0) as u64, e.severity));
        }
    }
    let rule = Rule {
        meta: RuleMeta {
            id: def.id,
            title: def.title,
            severity: def.severity,
            description: def.description,
            why: def.why,
            mitre: def.mitre,
            references: def.references,
            params: def.params,
            file: file.to_string(),
            kind: logic.kind(),
            foreign: None,
            no_seed: !def.seeds.unwrap_or(true),
        },
        roles,
        when,
        prefilter,
        group_by: def.group_by,
        logic,
        burst,
        summary: def.summary,
        params,
        tests: def.tests,
        source: text.to_string(),
    };
    // Detectors read their parameters at run time; check now that they have the right type.
    if let Logic::Baseline { detector, .. } = rule.logic {
        match detector {
            Detector::FirstSeen => {
                rule.duration("learn")?;
            }
            Detector::ImpossibleTravel => {
                rule.number("max_speed_kmh")?;
                rule.number("min_distance_km")?;
                rule.flag("exempt_same_device_isp")?;
            }
            Detector::ConcurrentSessions => {
                rule.duration("within")?;
                rule.number("min_distance_km")?;
                rule.flag("exempt_same_device_isp")?;
            }
        }
    }
    Ok(rule)
}

/// Reads every `.yaml` / `.yml` file directly in `dir` (test-case folders below it are for
/// `rules test`), in name order.
pub fn load_dir(
    dir: &Path,
    overrides: &BTreeMap<String, BTreeMap<String, Yaml>>,
) -> Result<Vec<Rule>, RuleError> {
    let io = |e: std::io::Error| RuleError::Io {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    // An entry that cannot be read is an error naming the folder, never a rule left out.
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    paths.sort();
    let empty = BTreeMap::new();
    paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| RuleError::Io {
                path: name.clone(),
                reason: e.to_string(),
            })?;
            let id = rule_id_hint(&text);
            parse(
                &name,
                &text,
                id.as_deref()
                    .and_then(|i| overrides.get(i))
                    .unwrap_or(&empty),
            )
        })
        .collect()
}

/// The `id:` line of a rule file, read before parsing so its parameter overrides can be found.
pub fn rule_id_hint(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "id: t\ntitle: T\nseverity: low\ndescription: d\nwhy: w\nmatch:\n  operation: X\nsummary: s\n";

    #[test]
    fn minimal_rule_parses() {
        let r = parse("t.yaml", MINIMAL, &BTreeMap::new()).expect("valid rule");
        assert_eq!(r.id(), "t");
        assert_eq!(r.prefilter.operations, Some(vec!["x".to_string()]));
        assert_eq!(r.logic.kind(), "event");
    }

    #[test]
    fn unknown_top_level_key_names_file_line_and_field() {
        let text = MINIMAL.replace("summary: s\n", "summary: s\nseverty: high\n");
        let err = parse("rules/t.yaml", &text, &BTreeMap::new()).expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.starts_with("rules/t.yaml, line 9"), "{msg}");
        assert!(msg.contains("severty") && msg.contains("expected"), "{msg}");
    }

    #[test]
    fn unknown_field_in_a_condition_names_its_line() {
        let text = MINIMAL.replace(
            "  operation: X\n",
            "  all:\n    - operation: X\n    - ip.netwrk: hosting\n",
        );
        let err = parse("t.yaml", &text, &BTreeMap::new()).expect_err("unknown field");
        let msg = err.to_string();
        assert!(msg.contains("ip.netwrk") && msg.contains("line 9"), "{msg}");
    }

    #[test]
    fn wrong_severity_and_bad_threshold_are_errors() {
        let err = parse(
            "t.yaml",
            &MINIMAL.replace("low", "severe"),
            &BTreeMap::new(),
        )
        .expect_err("bad severity");
        assert!(err.to_string().contains("line 3"), "{err}");
        let text = format!("{MINIMAL}threshold:\n  count: items\n  min: $n\n  window: 1h\n");
        let err = parse("t.yaml", &text, &BTreeMap::new()).expect_err("undeclared parameter");
        assert!(err.to_string().contains("$n"), "{err}");
        let text = format!("{MINIMAL}params:\n  n:\n    default: 5\n    reason: r\nthreshold:\n  count: items\n  min: $n\n  window: soon\n");
        let err = parse("t.yaml", &text, &BTreeMap::new()).expect_err("bad window");
        assert!(err.to_string().contains("threshold.window"), "{err}");
    }

    #[test]
    fn overrides_replace_defaults_and_unknown_overrides_are_refused() {
        let text = format!("{MINIMAL}params:\n  n:\n    default: 5\n    reason: r\nthreshold:\n  count: items\n  min: $n\n  window: 1h\n");
        let mut o = BTreeMap::new();
        o.insert("n".to_string(), Yaml::Number(9.into()));
        let r = parse("t.yaml", &text, &o).expect("valid");
        match r.logic {
            Logic::Threshold { min, window, .. } => {
                assert_eq!(min, 9.0);
                assert_eq!(window, Duration::hours(1));
            }
            _ => panic!("threshold expected"),
        }
        o.insert("m".to_string(), Yaml::Null);
        assert!(parse("t.yaml", &text, &o).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("30m"), Some(Duration::minutes(30)));
        assert_eq!(parse_duration("7d"), Some(Duration::days(7)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(format_duration(Duration::hours(2)), "2h");
    }
}
