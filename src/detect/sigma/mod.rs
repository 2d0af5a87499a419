//! Sigma rules (`--sigma PATH`) next to breachline's own. Each rule whose logsource is in the
//! field mapping ([`fields`], `data/sigma-fields.toml`) becomes an ordinary [`Rule`]: its
//! detection is a condition of the engine ([`detection`], matched by the `sigma-rust` crate), and
//! its findings look like any other, with the Sigma id, level, status and tags in
//! `details.sigma`. Sigma correlation rules ([`correlation`]) become thresholds and sequences on
//! each user's timeline.
//!
//! A rule that cannot be evaluated (a logsource breachline does not read, a field with no
//! mapping, an unsupported modifier, a YAML error) is not an error: it is [`Skipped`], with the
//! reason, and the run goes on.

pub mod correlation;
pub mod detection;
pub mod fields;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_yaml_ng::Value as Yaml;

use super::field::Role;
use super::matcher::{Cond, Prefilter};
use super::rule::{Foreign, ForeignMeta, Logic, Params, Rule, RuleMeta, RuleTest, Severity};
use detection::{Shape, SigmaCond};
pub use fields::FieldMap;

/// What a Sigma rule adds to a finding and to `rules list --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SigmaMeta {
    /// The rule's `id` (a UUID), or its `name` when it has no id.
    pub id: String,
    pub name: Option<String>,
    /// The `level` as the rule wrote it (`medium` when it has none).
    pub level: String,
    pub status: Option<String>,
    pub tags: Vec<String>,
    /// The mapping's name for the logsource (`azure/signinlogs`), or the correlation type.
    pub logsource: String,
    pub author: Option<String>,
    pub falsepositives: Vec<String>,
}

impl ForeignMeta for SigmaMeta {
    fn key(&self) -> &'static str {
        "sigma"
    }

    fn fields(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        vec![
            ("id", json!(self.id)),
            ("name", json!(self.name)),
            ("level", json!(self.level)),
            ("status", json!(self.status)),
            ("tags", json!(self.tags)),
            ("logsource", json!(self.logsource)),
            ("author", json!(self.author)),
            ("falsepositives", json!(self.falsepositives)),
        ]
    }

    fn finding_details(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "level": self.level,
            "status": self.status,
            "tags": self.tags,
            "logsource": self.logsource,
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl SigmaMeta {
    /// A rule's Sigma metadata, when it is a Sigma rule (`--sigma`).
    pub fn of(rule: &Rule) -> Option<&SigmaMeta> {
        rule.meta
            .foreign
            .as_ref()
            .and_then(|f| f.get::<SigmaMeta>())
    }
}

/// A Sigma rule that is not evaluated, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    pub file: String,
    /// 1-based position of the YAML document in its file.
    pub document: usize,
    pub title: String,
    pub id: Option<String>,
    pub reason: String,
}

impl Skipped {
    /// Whether the rule is for evidence breachline does not read (its logsource), rather than
    /// evidence it reads with a field, modifier or form it cannot evaluate.
    pub fn other_logsource(&self) -> bool {
        self.reason.starts_with("logsource ")
    }
}

/// The Sigma rules read from the paths given.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub skipped: Vec<Skipped>,
    /// Rule documents read (loaded + skipped + base rules only used by correlations).
    pub documents: usize,
    /// Ids of base rules that only feed a correlation (no `generate: true`): evaluated, but with
    /// no findings of their own.
    pub feeding: Vec<String>,
}

/// A detection rule that parsed, before its shape is known.
struct Parsed {
    file: String,
    document: usize,
    text: String,
    meta: SigmaMeta,
    title: String,
    description: String,
    references: Vec<String>,
    severity: Severity,
    logsource: String,
    fields: BTreeSet<String>,
    keywords: bool,
    rule: sigma_rust::Rule,
    tests: Vec<RuleTest>,
    /// The operations an event must have to match, when the detection says (a fast pre-check).
    operations: Option<Vec<String>>,
}

/// Every `.yml` / `.yaml` file under the paths (files as given, folders walked in name order).
/// A path that does not exist is an error: a typo must not leave rules out unnoticed.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            // An entry that cannot be read is an error, never a rule left out unnoticed.
            let entries: Vec<walkdir::DirEntry> = walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--sigma {}: cannot read {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .into_iter()
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            return Err(format!("--sigma {}: no such file or folder", p.display()));
        }
    }
    Ok(out)
}

/// Reads the Sigma rules under `paths`.
pub fn load(paths: &[PathBuf], map: &FieldMap) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut correlations: Vec<correlation::Pending> = Vec::new();
    for path in rule_files(paths)? {
        let file = path.display().to_string();
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                loaded.skipped.push(Skipped {
                    file: file.clone(),
                    document: 0,
                    title: String::new(),
                    id: None,
                    reason: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        for (n, doc) in documents(&text).into_iter().enumerate() {
            let document = n + 1;
            loaded.documents += 1;
            let skip = |reason: String, y: Option<&Yaml>| Skipped {
                file: file.clone(),
                document,
                title: y.and_then(|y| text_of(y, "title")).unwrap_or_default(),
                id: y.and_then(|y| text_of(y, "id")),
                reason,
            };
            let y: Yaml = match serde_yaml_ng::from_str(doc) {
                Ok(y @ Yaml::Mapping(_)) => y,
                Ok(other) => {
                    loaded.skipped.push(skip(
                        format!(
                            "not a Sigma rule: the document is {}, not a map",
                            super::matcher::describe(&other)
                        ),
                        None,
                    ));
                    continue;
                }
                Err(e) => {
                    loaded
                        .skipped
                        .push(skip(format!("not valid YAML: {e}"), None));
                    continue;
                }
            };
            if y.get("correlation").is_some() {
                correlations.push(correlation::Pending {
                    file: file.clone(),
                    document,
                    yaml: y,
                    text: doc.to_string(),
                });
                continue;
            }
            match parse_detection(&file, document, doc, &y, map) {
                Ok(p) => parsed.push(p),
                Err(reason) => loaded.skipped.push(skip(reason, Some(&y))),
            }
        }
    }
    // A rule id seen twice: the first file (in path order) wins.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    parsed.retain(|p| {
        if let Some(first) = seen.get(&p.meta.id) {
            loaded.skipped.push(Skipped {
                file: p.file.clone(),
                document: p.document,
                title: p.title.clone(),
                id: Some(p.meta.id.clone()),
                reason: format!("same id as the rule in {first}, which is used"),
            });
            false
        } else {
            seen.insert(p.meta.id.clone(), p.file.clone());
            true
        }
    });
    let shapes = shapes(&parsed, map);
    let mut rules: Vec<Rule> = parsed
        .into_iter()
        .map(|p| {
            let shape = Arc::clone(&shapes[&p.logsource]);
            compile(p, shape, map)
        })
        .collect();
    let (mut compiled, skipped, used) = correlation::compile(correlations, &rules, map);
    loaded.skipped.extend(skipped);
    // Base rules of a correlation without `generate: true` only feed the correlation.
    loaded.feeding = used.iter().cloned().collect();
    rules.retain(|r| !used.contains(&r.meta.id));
    rules.append(&mut compiled);
    rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    loaded
        .skipped
        .sort_by(|a, b| (&a.file, a.document, &a.reason).cmp(&(&b.file, b.document, &b.reason)));
    loaded.rules = rules;
    Ok(loaded)
}

/// The YAML documents of a file (split on `---` lines).
fn documents(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            out.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    out.push(&text[start..]);
    out.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

pub(crate) fn text_of(y: &Yaml, key: &str) -> Option<String> {
    match y.get(key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A text or a list of texts (other items are left out).
pub(crate) fn texts_of(y: &Yaml, key: &str) -> Vec<String> {
    match y.get(key) {
        Some(Yaml::Sequence(s)) => s
            .iter()
            .filter_map(|x| match x {
                Yaml::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The metadata every Sigma document has (detection or correlation).
pub(crate) fn meta_of(
    y: &Yaml,
    file: &str,
    document: usize,
    logsource: &str,
) -> (SigmaMeta, Severity) {
    let id = text_of(y, "id")
        .or_else(|| text_of(y, "name"))
        .unwrap_or_else(|| {
            let stem = Path::new(file)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("sigma");
            format!("{stem}#{document}")
        });
    let level = text_of(y, "level").unwrap_or_else(|| "medium".into());
    let severity = match level.to_ascii_lowercase().as_str() {
        "informational" => Severity::Informational,
        "low" => Severity::Low,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => Severity::Medium,
    };
    (
        SigmaMeta {
            id,
            name: text_of(y, "name"),
            level,
            status: text_of(y, "status"),
            tags: texts_of(y, "tags"),
            logsource: logsource.to_string(),
            author: text_of(y, "author"),
            falsepositives: texts_of(y, "falsepositives"),
        },
        severity,
    )
}

/// MITRE technique ids from Sigma tags (`attack.t1078.004` is T1078.004).
pub(crate) fn mitre_of(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| t.strip_prefix("attack.t"))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| format!("T{}", t.to_ascii_uppercase()))
        .collect()
}

/// The rule's own test cases (`tests:`, the same shape as a native rule's).
pub(crate) fn tests_of(y: &Yaml) -> Result<Vec<RuleTest>, String> {
    match y.get("tests") {
        None => Ok(Vec::new()),
        Some(t) => {
            let tests: Vec<RuleTest> =
                serde_yaml_ng::from_value(t.clone()).map_err(|e| format!("tests: {e}"))?;
            for t in &tests {
                t.expectation()
                    .map_err(|m| format!("tests: {}: {m}", t.name))?;
            }
            Ok(tests)
        }
    }
}

/// Modifiers breachline hands to sigma-rust; anything else is reported, not guessed at.
const MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "m",
    "s",
    "cidr",
    "windash",
    "base64",
    "base64offset",
    "utf16le",
    "utf16be",
    "utf16",
    "wide",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
    "cased",
    "fieldref",
];

/// The field names a detection uses, and whether it has keyword (any-field) selections.
fn detection_fields(detection: &Yaml) -> Result<(BTreeSet<String>, bool), String> {
    let Yaml::Mapping(m) = detection else {
        return Err("detection is not a map".into());
    };
    let mut fields = BTreeSet::new();
    let mut keywords = false;
    let add = |key: &str, value: &Yaml, fields: &mut BTreeSet<String>| -> Result<(), String> {
        let mut parts = key.split('|');
        let name = parts.next().unwrap_or_default();
        let mods: Vec<&str> = parts.collect();
        for m in &mods {
            if *m == "expand" {
                return Err(format!(
                    "field `{key}`: modifier `expand` (placeholders such as %internal_domains%) is not supported"
                ));
            }
            if matches!(*m, "i" | "m" | "s") {
                return Err(format!(
                    "field `{key}`: regular-expression flag `{m}` is not supported by sigma-rust 0.7 (write (?{m}) at the start of the expression)"
                ));
            }
            if !MODIFIERS.contains(m) {
                return Err(format!("field `{key}`: unknown modifier `{m}`"));
            }
        }
        if mods.contains(&"fieldref") {
            let refs: Vec<&Yaml> = match value {
                Yaml::Sequence(s) => s.iter().collect(),
                v => vec![v],
            };
            for r in refs {
                if let Yaml::String(s) = r {
                    fields.insert(s.clone());
                }
            }
        }
        if name.is_empty() {
            return Err(format!(
                "field `{key}`: a keyword with modifiers is not supported"
            ));
        }
        fields.insert(name.to_string());
        Ok(())
    };
    for (k, v) in m {
        let Yaml::String(k) = k else { continue };
        if k == "condition" || k == "timeframe" {
            continue;
        }
        match v {
            Yaml::Mapping(sel) => {
                for (fk, fv) in sel {
                    if let Yaml::String(fk) = fk {
                        add(fk, fv, &mut fields)?;
                    }
                }
            }
            Yaml::Sequence(items) => {
                for item in items {
                    match item {
                        Yaml::Mapping(sel) => {
                            for (fk, fv) in sel {
                                if let Yaml::String(fk) = fk {
                                    add(fk, fv, &mut fields)?;
                                }
                            }
                        }
                        _ => keywords = true,
                    }
                }
            }
            _ => keywords = true,
        }
    }
    Ok((fields, keywords))
}

fn parse_detection(
    file: &str,
    document: usize,
    text: &str,
    y: &Yaml,
    map: &FieldMap,
) -> Result<Parsed, String> {
    let detection = y
        .get("detection")
        .ok_or_else(|| "not a Sigma rule: no `detection` (and no `correlation`)".to_string())?;
    let logsource = y.get("logsource");
    let part = |k: &str| logsource.and_then(|l| text_of(l, k));
    let (product, service, category) = (part("product"), part("service"), part("category"));
    let ls = map.find(product.as_deref(), service.as_deref(), category.as_deref())?;
    let condition = detection.get("condition");
    let conditions: Vec<String> = match condition {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(s)) => s
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        _ => return Err("detection has no condition".into()),
    };
    if conditions.iter().any(|c| c.contains('|')) {
        return Err(
            "condition uses the deprecated aggregation syntax (`| count() by ...`); Sigma 2 writes it as a correlation rule"
                .into(),
        );
    }
    if conditions.len() > 1 {
        return Err("a list of conditions is not supported".into());
    }
    let (used, keywords) = detection_fields(detection)?;
    let unmapped: Vec<&str> = used
        .iter()
        .filter(|f| !ls.fields.contains_key(*f))
        .map(String::as_str)
        .collect();
    if !unmapped.is_empty() {
        return Err(format!(
            "{} {} no mapping for {} (add to data/sigma-fields.toml or --sigma-fields)",
            if unmapped.len() == 1 {
                "field"
            } else {
                "fields"
            },
            unmapped
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            ls.name
        ));
    }
    let rule = sigma_rust::rule_from_yaml(text).map_err(|e| {
        let e = e.to_string();
        format!("sigma-rust cannot read the rule: {e}")
    })?;
    let tests = tests_of(y)?;
    let operations = required_operations(detection, &conditions[0], ls);
    let (meta, severity) = meta_of(y, file, document, &ls.name);
    Ok(Parsed {
        file: file.to_string(),
        document,
        text: text.to_string(),
        title: text_of(y, "title").unwrap_or_else(|| meta.id.clone()),
        description: text_of(y, "description").unwrap_or_default(),
        references: texts_of(y, "references"),
        severity,
        logsource: ls.name.clone(),
        fields: used,
        keywords,
        rule,
        tests,
        operations,
        meta,
    })
}

/// The operations a detection requires, when its condition is selections joined by `and` and
/// one of them compares the field mapped to `operation` with plain values (no modifier, no
/// wildcard). Events with another operation cannot match, so the engine skips them without
/// building their Sigma event. `None` when the detection does not say.
fn required_operations(
    detection: &Yaml,
    condition: &str,
    ls: &fields::Logsource,
) -> Option<Vec<String>> {
    let words: Vec<&str> = condition.split_whitespace().collect();
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    if words.is_empty()
        || !words.iter().all(|w| {
            *w == "and" || (plain(w) && !matches!(*w, "or" | "not" | "of" | "them" | "all"))
        })
    {
        return None;
    }
    for name in words.iter().filter(|w| **w != "and") {
        let Some(Yaml::Mapping(sel)) = detection.get(*name) else {
            continue;
        };
        for (k, v) in sel {
            let Some(key) = k.as_str() else { continue };
            let Some(spec) = ls.fields.get(key) else {
                continue;
            };
            if spec.read != fields::Read::Field(super::field::Field::Operation)
                || spec.absent.is_some()
                || spec.equals.is_some()
            {
                continue;
            }
            let values: Vec<&Yaml> = match v {
                Yaml::Sequence(items) => items.iter().collect(),
                one => vec![one],
            };
            let mut out = Vec::new();
            for v in values {
                let text = v.as_str()?;
                if text.is_empty() || !text.is_ascii() || text.contains(['*', '?', '\\']) {
                    return None;
                }
                let lower = text.to_ascii_lowercase();
                if let Some(suffix) = &spec.strip_suffix {
                    out.push(format!("{lower}{}", suffix.to_ascii_lowercase()));
                }
                out.push(lower);
            }
            if !out.is_empty() {
                out.sort();
                out.dedup();
                return Some(out);
            }
        }
    }
    None
}

/// One shape per logsource: every field its rules read (all of the logsource's fields when a
/// rule searches keywords in any field).
fn shapes(parsed: &[Parsed], map: &FieldMap) -> BTreeMap<String, Arc<Shape>> {
    let mut out = BTreeMap::new();
    for ls in &map.logsources {
        let rules: Vec<&Parsed> = parsed.iter().filter(|p| p.logsource == ls.name).collect();
        if rules.is_empty() {
            continue;
        }
        let all = rules.iter().any(|p| p.keywords);
        let fields = ls
            .fields
            .iter()
            .filter(|(name, _)| all || rules.iter().any(|p| p.fields.contains(*name)))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        out.insert(
            ls.name.clone(),
            Arc::new(Shape {
                logsource: ls.name.clone(),
                fields,
                workloads: ls
                    .workloads
                    .iter()
                    .map(|w| w.to_ascii_lowercase())
                    .collect(),
            }),
        );
    }
    out
}

/// Prefilter and roles of a Sigma condition on one logsource.
pub(crate) fn prefilter_for(
    map: &FieldMap,
    logsource: &str,
    operations: Option<Vec<String>>,
) -> Prefilter {
    Prefilter {
        operations,
        sources: map
            .logsources
            .iter()
            .find(|l| l.name == logsource)
            .map(|l| l.sources.clone()),
        outcomes: None,
    }
}

fn compile(p: Parsed, shape: Arc<Shape>, map: &FieldMap) -> Rule {
    let mitre = mitre_of(&p.meta.tags);
    let why = format!(
        "Sigma rule ({}{}){}{}",
        p.meta.status.as_deref().unwrap_or("no status"),
        p.meta
            .author
            .as_deref()
            .map(|a| format!(", by {a}"))
            .unwrap_or_default(),
        if p.meta.falsepositives.is_empty() {
            ""
        } else {
            ". False positives: "
        },
        p.meta.falsepositives.join("; ")
    );
    Rule {
        meta: RuleMeta {
            id: p.meta.id.clone(),
            title: p.title.clone(),
            severity: p.severity,
            description: p.description,
            why,
            mitre,
            references: p.references,
            params: BTreeMap::new(),
            file: p.file,
            kind: "sigma",
            foreign: Some(Foreign::new(p.meta)),
            no_seed: false,
        },
        roles: vec![Role::Actor],
        prefilter: prefilter_for(map, &p.logsource, p.operations),
        when: Cond::Plugin(Arc::new(SigmaCond {
            rule: p.rule,
            shape,
        })),
        group_by: Vec::new(),
        logic: Logic::Event,
        burst: Default::default(),
        summary: summary(&p.title),
        params: Params::default(),
        tests: p.tests,
        source: p.text,
    }
}

/// The finding summary: the title, then what the event was (braces in the title are not
/// placeholders).
pub(crate) fn summary(title: &str) -> String {
    format!("{}: {{operation}} {{object}} from {{ip}}", escape(title))
}

/// A title as summary text: braces would read as placeholders.
pub(crate) fn escape(title: &str) -> String {
    title.replace('{', "(").replace('}', ")")
}
