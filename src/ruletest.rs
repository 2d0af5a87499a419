//! `rules test`: every rule's own test cases (a few events written as maps of normalized
//! fields), and every test-case folder (sample evidence files plus an `expected.toml` naming
//! which rules must and must not fire, optionally for which users).
//!
//! `expected.toml`:
//!
//! ```toml
//! [[must_fire]]                     # this rule fires (for this user, when given)
//! rule = "inbox-rule-suspicious"
//! user = "priya.natarajan@northwindtraders.example"
//!
//! count = 3                         # ... with this count (its `count` detail, else its evidence rows)
//! first = "2024-05-13T14:31:48Z"    # ... first and last evidence time
//! last = "2024-05-13T14:31:48Z"
//! evidence = [{ file = "audit.csv", line = 3 }]   # ... citing these rows (among others)
//!
//! [[must_not_fire]]                 # no finding of this rule (any rule when omitted), at any
//! user = "*"                        # severity; any user ...
//! except_users = ["priya.natarajan@northwindtraders.example"]   # ... but these
//! min_severity = "medium"           # counting only findings at or above this severity
//! ```
//!
//! The checks (`count`, `first`, `last`, `evidence`) narrow which findings an expectation is
//! about: `must_fire` needs one finding that passes them all, `must_not_fire` fails on any.
//!
//! A test-case folder goes through the whole pipeline (ingest, normalize, enrich, detect), so
//! this sits above [`crate::detect`], beside the CLI.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::detect::field::Field;
use crate::detect::matcher::{describe, scalar_text};
use crate::detect::rule::{line_of, Expect, Rule, RuleTest, Severity};
use crate::detect::{run, Finding};
use crate::enrich::{
    self, Enrichment, Exported, GeoIp, GeoPoint, IpInfo, NetworkConfig, NetworkKind, Precision,
};
use crate::model::{Event, Origin, Outcome, Source, Text};
use crate::normalize::time::parse_iso;

/// The outcome of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// The rule id, or the test-case folder.
    pub suite: String,
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// `suite / name`, then `: why` for a failure.
impl std::fmt::Display for TestResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.suite, self.name)?;
        match &self.failure {
            Some(why) => write!(f, ": {why}"),
            None => Ok(()),
        }
    }
}

/// Builds the events and the enrichment table a rule test describes.
pub fn synthetic_events(
    rule: &Rule,
    test: &RuleTest,
    geo: &GeoIp,
    nets: &NetworkConfig,
) -> Result<(Vec<Event>, Enrichment), String> {
    let mut events = Vec::new();
    let mut facts: BTreeMap<IpAddr, BTreeMap<String, Yaml>> = BTreeMap::new();
    for (n, map) in test.events.iter().enumerate() {
        let at = |key: &str, msg: String| {
            let line = line_of(&rule.source, &test.name)
                .map(|l| format!(" (test at line {l})"))
                .unwrap_or_default();
            format!("{}{line}, event {}, `{key}`: {msg}", rule.meta.file, n + 1)
        };
        let text = |key: &str, y: &Yaml| {
            scalar_text(y).ok_or_else(|| {
                at(
                    key,
                    format!("expected a text or number, found {}", describe(y)),
                )
            })
        };
        let time = map
            .get("time")
            .ok_or_else(|| {
                at(
                    "time",
                    "every test event needs a time (ISO 8601, UTC)".into(),
                )
            })
            .and_then(|y| text("time", y))
            .and_then(|s| {
                parse_iso(&s).ok_or_else(|| {
                    at(
                        "time",
                        format!(
                            "expected an ISO 8601 time such as 2024-05-13T14:19:37Z, found {s:?}"
                        ),
                    )
                })
            })?;
        let operation = match map.get("operation") {
            Some(y) => text("operation", y)?,
            None => "Sign-in".to_string(),
        };
        let source = match map
            .get("source")
            .map(|y| text("source", y))
            .transpose()?
            .as_deref()
        {
            None if operation == "Sign-in" => Source::Signin,
            None if operation == "Message" => Source::Messagetrace,
            None => Source::Audit,
            Some(s) => Source::ALL
                .into_iter()
                .find(|x| x.as_str() == s)
                .ok_or_else(|| {
                    at(
                        "source",
                        format!(
                            "expected signin, noninteractive, audit or messagetrace, found {s:?}"
                        ),
                    )
                })?,
        };
        let user = match map.get("user") {
            Some(y) => text("user", y)?.to_lowercase(),
            None => "user@tenant.example".into(),
        };
        let mut e = Event::new(time, source, Text::from(user), Text::from(operation));
        e.outcome = Outcome::Success;
        e.origin = Origin {
            file: 0,
            record: n as u64 + 1,
            part: 0,
            line: line_of(&rule.source, &test.name).unwrap_or(0),
        };
        let mut ip_facts = BTreeMap::new();
        for (key, y) in map {
            let opt = |y: &Yaml| text(key, y).map(|s| Some(Text::from(s)));
            match key.as_str() {
                "time" | "operation" | "source" | "user" => {}
                "outcome" => {
                    e.outcome = match text(key, y)?.as_str() {
                        "success" => Outcome::Success,
                        "failure" => Outcome::Failure,
                        "interrupted" => Outcome::Interrupted,
                        "unknown" => Outcome::Unknown,
                        other => {
                            return Err(at(
                                key,
                                format!(
                            "expected success, failure, interrupted or unknown, found {other:?}"
                        ),
                            ))
                        }
                    }
                }
                "ip" => {
                    let s = text(key, y)?;
                    e.ip =
                        Some(s.parse().map_err(|_| {
                            at(key, format!("expected an IP address, found {s:?}"))
                        })?);
                }
                "asn" => {
                    let s = text(key, y)?;
                    e.asn = Some(
                        s.parse()
                            .map_err(|_| at(key, format!("expected a number, found {s:?}")))?,
                    );
                }
                "error_code" => e.error_code = opt(y)?,
                "country" => e.country = opt(y)?,
                "region" => e.region = opt(y)?,
                "city" => e.city = opt(y)?,
                "user_agent" => e.user_agent = opt(y)?,
                "application" => e.application = opt(y)?,
                "client_app" => e.client_app = opt(y)?,
                "device_id" => e.device_id = opt(y)?,
                "session_id" => e.session_id = opt(y)?,
                "correlation_id" => e.correlation_id = opt(y)?,
                "request_id" => e.request_id = opt(y)?,
                "token_id" => e.token_id = opt(y)?,
                "record_id" => e.record_id = opt(y)?,
                "object" => e.object = opt(y)?,
                k if k.starts_with("attr.") && k.len() > 5 => {
                    let name = Text::from(&k[5..]);
                    match y {
                        Yaml::Sequence(items) => {
                            for i in items {
                                e.attrs.push((name.clone(), Text::from(text(key, i)?)));
                            }
                        }
                        other => e.attrs.push((name, Text::from(text(key, other)?))),
                    }
                }
                "ip.country" | "ip.asn" | "ip.as_org" | "ip.network" | "ip.provider"
                | "ip.trusted_country" | "ip.location" | "ip.shared" | "ip.spray_accounts" => {
                    ip_facts.insert(key.clone(), y.clone());
                }
                other => {
                    let hint = Field::parse(other)
                        .err()
                        .unwrap_or_else(|| format!("`{other}` cannot be set in a test event"));
                    return Err(at(other, format!("{hint}; ip facts: ip.country, ip.asn, ip.as_org, ip.network, ip.provider, ip.trusted_country, ip.shared, ip.spray_accounts, ip.location [lat, lon]")));
                }
            }
        }
        if let Some(ip) = e.ip {
            let f = facts.entry(ip).or_default();
            for (k, v) in ip_facts {
                f.entry(k).or_insert(v);
            }
        } else if !ip_facts.is_empty() {
            return Err(at("ip", "ip facts given for an event without `ip`".into()));
        }
        events.push(e);
    }
    events.sort_by(|a, b| a.time.cmp(&b.time).then(a.origin.cmp(&b.origin)));
    let mut infos = Vec::new();
    for (ip, f) in facts.iter() {
        let first = events.iter().find(|e| e.ip == Some(*ip));
        let exported = Exported {
            country: first.and_then(|e| e.country.clone()),
            region: None,
            city: None,
            asn: first.and_then(|e| e.asn),
        };
        let mut info = enrich::lookup(*ip, &exported, geo, nets);
        apply_facts(&mut info, f)
            .map_err(|m| format!("{}: test {:?}, ip {ip}: {m}", rule.meta.file, test.name))?;
        info.events = events.iter().filter(|e| e.ip == Some(*ip)).count() as u64;
        infos.push(info);
    }
    Ok((events, Enrichment::from_infos(infos, geo.databases())))
}

fn apply_facts(info: &mut IpInfo, facts: &BTreeMap<String, Yaml>) -> Result<(), String> {
    let text = |y: &Yaml| {
        scalar_text(y).ok_or_else(|| format!("expected a text or number, found {}", describe(y)))
    };
    for (k, y) in facts {
        match k.as_str() {
            "ip.country" => {
                let c = text(y)?.to_ascii_uppercase();
                info.location = enrich::centroids::centroid(&c).map(|(lat, lon)| GeoPoint {
                    lat,
                    lon,
                    precision: Precision::CountryCentroid,
                    accuracy_km: None,
                });
                info.country = Some(Text::from(c));
            }
            "ip.asn" => info.asn = Some(text(y)?.parse().map_err(|_| "ip.asn: expected a number".to_string())?),
            "ip.as_org" => info.as_org = Some(Text::from(text(y)?)),
            "ip.provider" => info.provider = Some(Text::from(text(y)?)),
            "ip.trusted_country" => info.trusted_country = matches!(y, Yaml::Bool(true)),
            "ip.shared" => info.shared = matches!(y, Yaml::Bool(true)),
            "ip.spray_accounts" => {
                info.spray_accounts = text(y)?
                    .parse()
                    .map_err(|_| "ip.spray_accounts: expected a number".to_string())?
            }
            "ip.network" => {
                info.network = match text(y)?.as_str() {
                    "hosting" => NetworkKind::Hosting,
                    "vpn" => NetworkKind::Vpn,
                    "residential/isp" | "isp" | "residential" => NetworkKind::Isp,
                    "corporate" => NetworkKind::Corporate,
                    "not-public" => NetworkKind::NotPublic,
                    "unknown" => NetworkKind::Unknown,
                    other => return Err(format!("ip.network: expected hosting, vpn, residential/isp, corporate, not-public or unknown, found {other:?}")),
                }
            }
            _ => {}
        }
    }
    if let Some(Yaml::Sequence(ll)) = facts.get("ip.location") {
        let n: Vec<f64> = ll.iter().filter_map(|v| v.as_f64()).collect();
        let [lat, lon] = n.as_slice() else {
            return Err("ip.location: expected [latitude, longitude]".into());
        };
        info.location = Some(GeoPoint {
            lat: *lat,
            lon: *lon,
            precision: Precision::City,
            accuracy_km: None,
        });
    } else if facts.contains_key("ip.location") {
        return Err("ip.location: expected [latitude, longitude]".into());
    }
    Ok(())
}

/// Runs every test case of every rule.
pub fn run_rule_tests(rules: &[Rule]) -> Vec<TestResult> {
    let geo = GeoIp::embedded();
    let nets = NetworkConfig::builtin();
    let mut out = Vec::new();
    for rule in rules {
        // Community Sigma rules carry no test cases; a Sigma rule is tested when it has some.
        if rule.tests.is_empty() && crate::detect::sigma::SigmaMeta::of(rule).is_some() {
            continue;
        }
        if rule.tests.is_empty() {
            out.push(TestResult {
                suite: rule.meta.id.clone(),
                name: "has tests".into(),
                failure: Some(format!(
                    "{}: a rule needs at least one test that fires and one that does not",
                    rule.meta.file
                )),
            });
            continue;
        }
        for t in &rule.tests {
            let failure = (|| -> Result<(), String> {
                let expect = t.expectation()?;
                let (events, enrichment) = synthetic_events(rule, t, &geo, &nets)?;
                let files = vec![rule.meta.file.clone()];
                let found = run(
                    &events,
                    &enrichment,
                    std::slice::from_ref(rule),
                    &files,
                    &[],
                );
                let n = found.len();
                let ok = match expect {
                    Expect::Fire => n > 0,
                    Expect::NoFire => n == 0,
                    Expect::Count(c) => n == c,
                };
                if ok {
                    Ok(())
                } else {
                    let said = match expect {
                        Expect::Fire => "fire".to_string(),
                        Expect::NoFire => "no-fire".to_string(),
                        Expect::Count(c) => format!("{c} findings"),
                    };
                    let got: Vec<String> = found
                        .iter()
                        .map(|f| format!("{}: {}", f.user, f.summary))
                        .collect();
                    Err(format!(
                        "expected {said}, got {n} findings{}{}",
                        if got.is_empty() { "" } else { ": " },
                        got.join("; ")
                    ))
                }
            })()
            .err();
            out.push(TestResult {
                suite: rule.meta.id.clone(),
                name: t.name.clone(),
                failure,
            });
        }
    }
    out
}

/// What a test-case folder expects.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub must_fire: Vec<Expectation>,
    #[serde(default)]
    pub must_not_fire: Vec<Expectation>,
}

/// One line of `expected.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// A rule id; omitted means any rule.
    #[serde(default)]
    pub rule: Option<String>,
    /// A user (any case), or `*` / omitted for any user.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub except_users: Vec<String>,
    /// Only findings at or above this severity count.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// The finding's count: its `count` detail, else how many evidence rows it has.
    #[serde(default)]
    pub count: Option<u64>,
    /// The finding's first evidence time (ISO 8601, UTC unless an offset is given).
    #[serde(default)]
    pub first: Option<String>,
    /// The finding's last evidence time.
    #[serde(default)]
    pub last: Option<String>,
    /// Rows the finding must cite (among others).
    #[serde(default)]
    pub evidence: Vec<EvidenceRow>,
    /// Why this is expected (printed on failure).
    #[serde(default)]
    pub note: Option<String>,
}

type Instant = chrono::DateTime<chrono::Utc>;

/// An evidence row of a test case: a file of the case folder (a path relative to it) and the
/// line its record starts on (1-based), as findings cite them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRow {
    pub file: String,
    pub line: u64,
}

/// A finding's count: its `count` detail, else its number of evidence rows (all of them, when
/// more than the finding lists).
pub fn finding_count(f: &Finding) -> u64 {
    f.details
        .get("count")
        .and_then(serde_json::Value::as_u64)
        .or_else(|| {
            f.details
                .get("evidence_total")
                .and_then(serde_json::Value::as_u64)
        })
        .unwrap_or(f.evidence.len() as u64)
}

impl Expectation {
    fn matches(&self, f: &Finding) -> bool {
        self.rule.as_deref().is_none_or(|r| r == f.rule_id)
            && self
                .user
                .as_deref()
                .is_none_or(|u| u == "*" || u.eq_ignore_ascii_case(&f.user))
            && !self
                .except_users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(&f.user))
            && self.min_severity.is_none_or(|s| f.severity >= s)
    }

    /// The times of the checks, parsed; an error names the bad one.
    fn times(&self) -> Result<(Option<Instant>, Option<Instant>), String> {
        let parse = |name: &str, v: &Option<String>| match v {
            None => Ok(None),
            Some(t) => parse_iso(t.trim())
                .map(Some)
                .ok_or_else(|| format!("{name} = {t:?} is not an ISO 8601 time")),
        };
        Ok((parse("first", &self.first)?, parse("last", &self.last)?))
    }

    /// How `f` misses the checks (count, first, last, evidence); empty when it passes them all.
    /// Evidence files are compared as paths ending in the row's file (relative to the case
    /// folder).
    fn misses(&self, f: &Finding) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(want) = self.count {
            let got = finding_count(f);
            if got != want {
                out.push(format!("count {got}, not {want}"));
            }
        }
        let (first, last) = self.times().unwrap_or_default();
        let fmt = crate::normalize::time::format;
        if let Some(want) = first.filter(|t| *t != f.first) {
            out.push(format!("first {}, not {}", fmt(&f.first), fmt(&want)));
        }
        if let Some(want) = last.filter(|t| *t != f.last) {
            out.push(format!("last {}, not {}", fmt(&f.last), fmt(&want)));
        }
        for row in &self.evidence {
            let cited = f
                .evidence
                .iter()
                .any(|e| e.line == row.line && Path::new(&e.file).ends_with(&row.file));
            if !cited {
                out.push(format!("does not cite {} line {}", row.file, row.line));
            }
        }
        out
    }

    fn describe(&self) -> String {
        let mut s = format!("rule {}", self.rule.as_deref().unwrap_or("(any)"));
        if let Some(u) = &self.user {
            s.push_str(&format!(" for {u}"));
        }
        if !self.except_users.is_empty() {
            s.push_str(&format!(" except {}", self.except_users.join(", ")));
        }
        if let Some(m) = self.min_severity {
            s.push_str(&format!(" at {m} or above"));
        }
        let mut checks = Vec::new();
        if let Some(c) = self.count {
            checks.push(format!("count {c}"));
        }
        if let Some(t) = &self.first {
            checks.push(format!("first {t}"));
        }
        if let Some(t) = &self.last {
            checks.push(format!("last {t}"));
        }
        for e in &self.evidence {
            checks.push(format!("citing {} line {}", e.file, e.line));
        }
        if !checks.is_empty() {
            s.push_str(&format!(" with {}", checks.join(", ")));
        }
        s
    }
}

/// Folders under `dir` (itself included) that hold an `expected.toml`, in name order.
pub fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name() == "expected.toml")
        .filter_map(|e| e.path().parent().map(Path::to_path_buf))
        .collect();
    out.sort();
    out
}

/// Reads and checks one test-case folder against `rules`.
pub fn run_case(dir: &Path, rules: &[Rule]) -> Vec<TestResult> {
    let suite = dir.display().to_string();
    let fail = |name: &str, why: String| {
        vec![TestResult {
            suite: suite.clone(),
            name: name.to_string(),
            failure: Some(why),
        }]
    };
    let path = dir.join("expected.toml");
    let expected: Expected = match std::fs::read_to_string(&path) {
        Ok(text) => match toml::from_str(&text) {
            Ok(e) => e,
            Err(e) => return fail("expected.toml", format!("{}: {e}", path.display())),
        },
        Err(e) => return fail("expected.toml", format!("{}: {e}", path.display())),
    };
    for x in expected.must_fire.iter().chain(&expected.must_not_fire) {
        if let Err(why) = x.times() {
            return fail(
                "expected.toml",
                format!("{}: {why} ({})", path.display(), x.describe()),
            );
        }
        if let Some(r) = &x.rule {
            if !rules.iter().any(|rule| &rule.meta.id == r) {
                return fail(
                    "expected.toml",
                    format!("{}: no rule `{r}` in the rule set", path.display()),
                );
            }
        }
    }
    let opts = crate::ingest::IngestOptions {
        progress: false,
        ..Default::default()
    };
    let ing = match crate::ingest::ingest(&[dir.to_path_buf()], &opts) {
        Ok(i) => i,
        Err(e) => return fail("ingest", e.to_string()),
    };
    let enrichment = enrich::enrich(&ing.events, &GeoIp::embedded(), &NetworkConfig::builtin());
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let findings = run(&ing.events, &enrichment, rules, &files, &[]);
    let mut out = Vec::new();
    for x in &expected.must_fire {
        let near: Vec<&Finding> = findings.iter().filter(|f| x.matches(f)).collect();
        let hit = near.iter().any(|f| x.misses(f).is_empty());
        let note = x
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        out.push(TestResult {
            suite: suite.clone(),
            name: format!("fires: {}", x.describe()),
            failure: (!hit).then(|| {
                if near.is_empty() {
                    return format!("no finding of {}{note}", x.describe());
                }
                // The findings of the rule that miss a check, and how (the first few).
                let how: Vec<String> = near
                    .iter()
                    .take(3)
                    .map(|f| {
                        format!(
                            "{} {}: {}",
                            crate::normalize::time::format(&f.first),
                            f.user,
                            x.misses(f).join(", ")
                        )
                    })
                    .collect();
                format!(
                    "no finding of {}{note}; {} of the rule miss: {}{}",
                    x.describe(),
                    near.len(),
                    how.join("; "),
                    if near.len() > how.len() { "; ..." } else { "" }
                )
            }),
        });
    }
    for x in &expected.must_not_fire {
        let wrong: Vec<String> = findings
            .iter()
            .filter(|f| x.matches(f) && x.misses(f).is_empty())
            .map(|f| {
                format!(
                    "{} {} {} {}: {}",
                    crate::normalize::time::format(&f.first),
                    f.rule_id,
                    f.severity,
                    f.user,
                    f.summary
                )
            })
            .collect();
        out.push(TestResult {
            suite: suite.clone(),
            name: format!("does not fire: {}", x.describe()),
            failure: (!wrong.is_empty())
                .then(|| format!("{} unexpected findings: {}", wrong.len(), wrong.join("; "))),
        });
    }
    out
}

/// Writes results as JUnit XML (one test suite per rule or case folder).
pub fn junit(results: &[TestResult]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut suites: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    for r in results {
        suites.entry(&r.suite).or_default().push(r);
    }
    let failures = results.iter().filter(|r| !r.passed()).count();
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"breachline rules\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len()
    );
    for (suite, rs) in suites {
        let f = rs.iter().filter(|r| !r.passed()).count();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\">\n",
            esc(suite),
            rs.len()
        ));
        for r in rs {
            match &r.failure {
                None => x.push_str(&format!("    <testcase classname=\"{}\" name=\"{}\"/>\n", esc(suite), esc(&r.name))),
                Some(m) => x.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    esc(suite),
                    esc(&r.name),
                    esc(m)
                )),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
