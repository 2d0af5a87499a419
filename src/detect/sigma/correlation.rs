//! Sigma correlation rules (`correlation:` documents), evaluated on each user's timeline:
//!
//! | Sigma type | breachline logic |
//! |---|---|
//! | `event_count` | a threshold: at least N events of the referenced rules within `timespan` |
//! | `value_count` | a threshold on distinct values of `condition.field` within `timespan` |
//! | `temporal` | every referenced rule matched within `timespan`, in any order |
//! | `temporal_ordered` | the same, in the order the rules are listed |
//!
//! breachline counts within one user's events, so `group-by` must include a field the mapping
//! gives as `user` (`UserPrincipalName`, `UserId`); its other fields split the user's events
//! further. Conditions are `gte` and `gt` (a sliding threshold); `aliases` and the other
//! comparisons are reported as unsupported. As the Sigma specification says, the referenced rules
//! produce findings of their own only with `generate: true`.

use std::collections::BTreeSet;

use serde_yaml_ng::Value as Yaml;

use super::fields::{FieldMap, Read};
use super::{escape, meta_of, mitre_of, tests_of, text_of, texts_of, SigmaMeta, Skipped};
use crate::detect::field::{Field, Role};
use crate::detect::matcher::{Cond, Prefilter};
use crate::detect::rule::{parse_duration, Count, Foreign, Logic, Params, Rule, RuleMeta, Step};

/// A correlation document, kept until every detection rule is read.
pub struct Pending {
    pub file: String,
    pub document: usize,
    pub yaml: Yaml,
    pub text: String,
}

/// Compiles the correlations against the detection rules loaded. Returns the rules, the
/// correlations skipped, and the ids of base rules that only feed a correlation.
pub fn compile(
    pending: Vec<Pending>,
    rules: &[Rule],
    map: &FieldMap,
) -> (Vec<Rule>, Vec<Skipped>, BTreeSet<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut used = BTreeSet::new();
    let mut generated = BTreeSet::new();
    for p in pending {
        match one(&p, rules, map) {
            Ok((rule, bases, generate)) => {
                for b in bases {
                    if generate {
                        generated.insert(b.clone());
                    }
                    used.insert(b);
                }
                out.push(rule);
            }
            Err(reason) => skipped.push(Skipped {
                file: p.file.clone(),
                document: p.document,
                title: text_of(&p.yaml, "title").unwrap_or_default(),
                id: text_of(&p.yaml, "id"),
                reason,
            }),
        }
    }
    let used = used.difference(&generated).cloned().collect();
    (out, skipped, used)
}

fn one(p: &Pending, rules: &[Rule], map: &FieldMap) -> Result<(Rule, Vec<String>, bool), String> {
    let c = p
        .yaml
        .get("correlation")
        .ok_or_else(|| "no correlation".to_string())?;
    let kind = text_of(c, "type").ok_or_else(|| "correlation has no `type`".to_string())?;
    if c.get("aliases").is_some() {
        return Err("correlation `aliases` are not supported".into());
    }
    let names = texts_of(c, "rules");
    if names.is_empty() {
        return Err("correlation has no `rules`".into());
    }
    let mut bases: Vec<&Rule> = Vec::new();
    for n in &names {
        let found = rules.iter().find(|r| {
            r.meta.id == *n
                || SigmaMeta::of(r).is_some_and(|s| s.name.as_deref() == Some(n.as_str()))
        });
        match found {
            Some(r) => bases.push(r),
            None => {
                return Err(format!(
                    "references rule `{n}`, which is not loaded (not given, or skipped)"
                ))
            }
        }
    }
    let generate = matches!(c.get("generate"), Some(Yaml::Bool(true)));
    let timespan =
        text_of(c, "timespan").ok_or_else(|| "correlation has no `timespan`".to_string())?;
    let within = parse_duration(&timespan)
        .filter(|d| d.num_milliseconds() > 0)
        .ok_or_else(|| format!("timespan `{timespan}`: expected 30s, 10m, 1h or 1d"))?;
    // group-by: one breachline field per name, the same in every referenced rule's logsource.
    let group = texts_of(c, "group-by");
    let resolve = |name: &str| -> Result<Field, String> {
        let mut got: Option<Field> = None;
        for b in &bases {
            let ls = SigmaMeta::of(b).map(|s| s.logsource.as_str()).unwrap_or("");
            let spec = map
                .logsources
                .iter()
                .find(|l| l.name == ls)
                .and_then(|l| l.fields.get(name))
                .ok_or_else(|| format!("field `{name}` has no mapping for {ls}"))?;
            let Read::Field(f) = &spec.read else {
                return Err(format!(
                    "field `{name}` is several attributes; it cannot group or count"
                ));
            };
            match &got {
                Some(g) if g != f => {
                    return Err(format!(
                        "field `{name}` is `{g}` in one referenced rule and `{f}` in another"
                    ))
                }
                _ => got = Some(f.clone()),
            }
        }
        got.ok_or_else(|| format!("field `{name}`: no referenced rule"))
    };
    let mut group_by = Vec::new();
    let mut per_user = false;
    for g in &group {
        let f = resolve(g)?;
        if f == Field::User {
            per_user = true;
        } else if !group_by.contains(&f) {
            group_by.push(f);
        }
    }
    if !per_user {
        return Err(format!(
            "group-by ({}) has no user field: breachline correlates within one user's events, so group-by must include e.g. UserPrincipalName",
            if group.is_empty() { "empty".to_string() } else { group.join(", ") }
        ));
    }
    let cond = c.get("condition");
    let threshold = || -> Result<f64, String> {
        let cond = cond.ok_or_else(|| "correlation has no `condition`".to_string())?;
        let num = |k: &str| cond.get(k).and_then(|v| v.as_f64());
        for k in ["lt", "lte", "eq", "neq"] {
            if cond.get(k).is_some() {
                return Err(format!(
                    "condition `{k}` is not supported (breachline looks for bursts: gte or gt)"
                ));
            }
        }
        match (num("gte"), num("gt")) {
            (Some(n), None) => Ok(n),
            (None, Some(n)) => Ok(n.floor() + 1.0),
            _ => Err("condition needs one of gte or gt".into()),
        }
    };
    let any_of = || -> (Cond, Prefilter) {
        if bases.len() == 1 {
            return (bases[0].when.clone(), bases[0].prefilter.clone());
        }
        let mut sources = Vec::new();
        let mut all = false;
        for b in &bases {
            match &b.prefilter.sources {
                Some(s) => sources.extend(s.iter().copied()),
                None => all = true,
            }
        }
        sources.sort();
        sources.dedup();
        (
            Cond::Any(bases.iter().map(|b| b.when.clone()).collect()),
            Prefilter {
                operations: None,
                sources: (!all).then_some(sources),
                outcomes: None,
            },
        )
    };
    let (logic, when, prefilter, kind_name): (Logic, Cond, Prefilter, &'static str) =
        match kind.as_str() {
            "event_count" => {
                let (w, pf) = any_of();
                (
                    Logic::Threshold {
                        count: Count::Events,
                        min: threshold()?,
                        window: within,
                        history: None,
                    },
                    w,
                    pf,
                    "sigma event_count",
                )
            }
            "value_count" => {
                let field = cond
                    .and_then(|c| text_of(c, "field"))
                    .ok_or_else(|| "value_count condition has no `field`".to_string())?;
                let f = resolve(&field)?;
                let (w, pf) = any_of();
                (
                    Logic::Threshold {
                        count: Count::Distinct(f),
                        min: threshold()?,
                        window: within,
                        history: None,
                    },
                    w,
                    pf,
                    "sigma value_count",
                )
            }
            "temporal" | "temporal_ordered" => {
                if bases.len() < 2 {
                    return Err(format!("{kind} needs at least two rules"));
                }
                let steps = bases
                    .iter()
                    .map(|b| Step {
                        when: b.when.clone(),
                        prefilter: b.prefilter.clone(),
                        min: 1,
                        roles: b.roles.clone(),
                    })
                    .collect();
                let ordered = kind == "temporal_ordered";
                (
                    Logic::Temporal {
                        steps,
                        within,
                        ordered,
                    },
                    Cond::True,
                    Prefilter::default(),
                    if ordered {
                        "sigma temporal_ordered"
                    } else {
                        "sigma temporal"
                    },
                )
            }
            other => return Err(format!("correlation type `{other}` is not supported")),
        };
    let (meta, severity) = meta_of(&p.yaml, &p.file, p.document, &format!("correlation {kind}"));
    let title = text_of(&p.yaml, "title").unwrap_or_else(|| meta.id.clone());
    let tests = tests_of(&p.yaml)?;
    let why = format!(
        "Sigma {kind} correlation of {} within {timespan}",
        bases
            .iter()
            .map(|b| b.meta.title.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rule = Rule {
        meta: RuleMeta {
            id: meta.id.clone(),
            title: title.clone(),
            severity,
            description: text_of(&p.yaml, "description").unwrap_or_default(),
            why,
            mitre: mitre_of(&meta.tags),
            references: Vec::new(),
            params: Default::default(),
            file: p.file.clone(),
            kind: kind_name,
            foreign: Some(Foreign::new(meta)),
            no_seed: false,
        },
        roles: vec![Role::Actor],
        when,
        prefilter,
        group_by,
        logic,
        burst: Default::default(),
        summary: match kind.as_str() {
            "value_count" => format!(
                "{}: {{count}} {{counted}} within {{window}}",
                escape(&title)
            ),
            "event_count" => format!("{}: {{count}} events within {{window}}", escape(&title)),
            _ => format!(
                "{}: all {} rules within {{span}} (window {{window}})",
                escape(&title),
                bases.len()
            ),
        },
        params: Params::default(),
        tests,
        source: p.text.clone(),
    };
    Ok((
        rule,
        bases.iter().map(|b| b.meta.id.clone()).collect(),
        generate,
    ))
}
