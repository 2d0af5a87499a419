//! `breachline rules`: list the rules in force, show one, and test them (each rule's own cases
//! and every test-case folder) for CI. Also the `--rules` / `--disable` / `--param` options
//! that `analyze` shares.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Cli;
use crate::detect::{self, Overrides, RuleSet};
use crate::report;
use crate::ruletest;

/// Which rules run: the built-ins, the folders given, minus the disabled ones.
#[derive(Args, Debug, Clone, Default)]
pub struct RuleSelection {
    /// A folder of rule files (*.yaml) to add; a rule with a built-in's id replaces it. Repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,

    /// Leave out the rule with this id. Repeatable.
    #[arg(long, value_name = "ID")]
    pub disable: Vec<String>,

    /// Tune a rule parameter: RULE.NAME=VALUE (e.g. mass-send.min_messages=10). Repeatable.
    #[arg(long = "param", value_name = "RULE.NAME=VALUE")]
    pub params: Vec<String>,

    /// Sigma rules to run as well: a .yml file or a folder (walked). Only rules whose logsource
    /// breachline reads (azure signinlogs / auditlogs, m365 audit / exchange /
    /// threat_management) load; the others are listed at load time with the reason. Repeatable.
    #[arg(long = "sigma", value_name = "PATH")]
    pub sigma: Vec<PathBuf>,

    /// A TOML file of extra Sigma field mappings (the shape of data/sigma-fields.toml).
    /// Repeatable.
    #[arg(long = "sigma-fields", value_name = "FILE")]
    pub sigma_fields: Vec<PathBuf>,
}

impl RuleSelection {
    /// The rule set, or an error naming the file, line and field of a bad rule.
    pub fn load(&self) -> anyhow::Result<RuleSet> {
        self.load_with(&self.rules)
    }

    fn load_with(&self, dirs: &[PathBuf]) -> anyhow::Result<RuleSet> {
        let mut overrides = Overrides::new();
        for p in &self.params {
            let (rule, name, value) = detect::parse_override(p).map_err(anyhow::Error::msg)?;
            overrides.entry(rule).or_default().insert(name, value);
        }
        let sigma = self.load_sigma()?;
        let set = RuleSet::load_with_sigma(dirs, sigma, &self.disable, &overrides)?;
        report_skipped(&set);
        Ok(set)
    }

    /// The Sigma rules of `--sigma`, with the `--sigma-fields` mappings.
    fn load_sigma(&self) -> anyhow::Result<detect::sigma::Loaded> {
        if self.sigma.is_empty() {
            if !self.sigma_fields.is_empty() {
                anyhow::bail!("--sigma-fields maps the fields of --sigma rules; add --sigma PATH");
            }
            return Ok(Default::default());
        }
        let map = detect::sigma::FieldMap::load(&self.sigma_fields).map_err(anyhow::Error::msg)?;
        let loaded = detect::sigma::load(&self.sigma, &map).map_err(anyhow::Error::msg)?;
        Ok(loaded)
    }
}

/// Every Sigma rule that does not load, once, on stderr; then how many did.
fn report_skipped(set: &RuleSet) {
    let loaded = set
        .rules
        .iter()
        .filter(|r| detect::sigma::SigmaMeta::of(r).is_some())
        .count();
    if loaded == 0 && set.skipped.is_empty() {
        return;
    }
    for s in &set.skipped {
        let what = match (&s.title, s.document) {
            (t, d) if !t.is_empty() && d > 1 => format!(" (document {d}: {t})"),
            (t, _) if !t.is_empty() => format!(" ({t})"),
            _ => String::new(),
        };
        crate::report::terminal::eprint_line(&format!(
            "sigma: skipped {}{what}: {}",
            s.file, s.reason
        ));
    }
    eprintln!(
        "sigma: {loaded} rule{} loaded, {} skipped",
        if loaded == 1 { "" } else { "s" },
        set.skipped.len()
    );
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// The rules in force: id, severity, kind, title, MITRE technique, number of tests.
    List {
        #[command(flatten)]
        selection: RuleSelection,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One rule: its description, why it matters, parameters with their reasons, and its file.
    Show {
        /// The rule id (see `rules list`).
        id: String,
        #[command(flatten)]
        selection: RuleSelection,
    },
    /// Run every rule's tests and every test-case folder (a folder with expected.toml) under
    /// the folders given; exit 1 on any mismatch.
    Test {
        /// Rule folders (their rules join the built-ins) and test-case folders.
        #[arg(value_name = "RULES_DIR")]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        selection: RuleSelection,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Which Sigma rules breachline can evaluate: how many load, per logsource, and every rule
    /// that does not, with the reason (point it at a checkout of SigmaHQ's rules/cloud).
    Sigma {
        /// Sigma rule files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Extra field mappings (the shape of data/sigma-fields.toml). Repeatable.
        #[arg(long = "sigma-fields", value_name = "FILE")]
        sigma_fields: Vec<PathBuf>,
        /// Markdown tables (for a README or a pull request) instead of plain text.
        #[arg(long)]
        markdown: bool,
    },
}

pub fn run(args: &RulesArgs, _cli: &Cli) -> anyhow::Result<u8> {
    let mut out = report::stdout();
    match &args.command {
        RulesCommand::List { selection, json } => {
            let set = selection.load()?;
            let written = if *json {
                let metas: Vec<_> = set.rules.iter().map(|r| &r.meta).collect();
                serde_json::to_writer_pretty(&mut out, &metas)
                    .map_err(std::io::Error::from)
                    .and_then(|_| out.write_all(b"\n"))
            } else {
                out.write_all(report::findings::rules(&set.rules).as_bytes())
            };
            report::ignore_broken_pipe(written.and_then(|_| out.flush()))?;
            Ok(super::exit::OK)
        }
        RulesCommand::Sigma {
            paths,
            sigma_fields,
            markdown,
        } => {
            let map = detect::sigma::FieldMap::load(sigma_fields).map_err(anyhow::Error::msg)?;
            let loaded = detect::sigma::load(paths, &map).map_err(anyhow::Error::msg)?;
            let text = report::findings::sigma_coverage(&loaded, *markdown);
            report::ignore_broken_pipe(out.write_all(text.as_bytes()).and_then(|_| out.flush()))?;
            Ok(super::exit::OK)
        }
        RulesCommand::Show { id, selection } => {
            let set = selection.load()?;
            let r = set
                .get(id)
                .with_context(|| format!("no rule `{id}` (see `breachline rules list`)"))?;
            let mut s = format!(
                "{} — {}\nseverity: {}   kind: {}   MITRE: {}\nfile: {}\n\n{}\n\nWhy it matters: {}\n",
                r.meta.id,
                r.meta.title,
                r.meta.severity,
                r.meta.kind,
                r.meta.mitre.join(", "),
                r.meta.file,
                r.meta.description.trim(),
                r.meta.why.trim()
            );
            if let Some(sg) = detect::sigma::SigmaMeta::of(r) {
                s.push_str(&format!(
                    "\nSigma: level {}, status {}, logsource {}, tags {}\n",
                    sg.level,
                    sg.status.as_deref().unwrap_or("-"),
                    sg.logsource,
                    if sg.tags.is_empty() {
                        "-".to_string()
                    } else {
                        sg.tags.join(", ")
                    }
                ));
            }
            if !r.meta.params.is_empty() {
                s.push_str("\nParameters (--param ID.NAME=VALUE):\n");
                for (name, p) in &r.meta.params {
                    let value = r.params.value(name).unwrap_or(p.default.clone());
                    let v = serde_yaml_ng::to_string(&value).unwrap_or_default();
                    s.push_str(&format!(
                        "  {name} = {}    ({})\n",
                        v.trim(),
                        p.reason.trim()
                    ));
                }
            }
            for link in &r.meta.references {
                s.push_str(&format!("reference: {link}\n"));
            }
            s.push_str(&format!(
                "\n{} tests. Rule file:\n\n{}",
                r.tests.len(),
                r.source
            ));
            report::ignore_broken_pipe(out.write_all(s.as_bytes()).and_then(|_| out.flush()))?;
            Ok(super::exit::OK)
        }
        RulesCommand::Test {
            dirs,
            selection,
            junit,
        } => {
            // Folders holding rule files add rules; test-case folders are found anywhere below.
            let mut rule_dirs = selection.rules.clone();
            for d in dirs {
                if !d.is_dir() {
                    anyhow::bail!("{}: not a folder", d.display());
                }
                let has_rules = std::fs::read_dir(d)
                    .with_context(|| format!("cannot read {}", d.display()))?
                    .filter_map(|e| e.ok())
                    .any(|e| {
                        matches!(
                            e.path().extension().and_then(|x| x.to_str()),
                            Some("yaml" | "yml")
                        )
                    });
                if has_rules {
                    rule_dirs.push(d.clone());
                }
            }
            let set = selection.load_with(&rule_dirs)?;
            let mut results = ruletest::run_rule_tests(&set.rules);
            for d in dirs {
                for case in ruletest::case_dirs(d) {
                    results.extend(ruletest::run_case(&case, &set.rules));
                }
            }
            let failed = results.iter().filter(|r| !r.passed()).count();
            let mut text = String::new();
            for r in &results {
                match &r.failure {
                    None => text.push_str(&format!("ok    {} / {}\n", r.suite, r.name)),
                    Some(why) => {
                        text.push_str(&format!("FAIL  {} / {}\n      {why}\n", r.suite, r.name))
                    }
                }
            }
            text.push_str(&format!(
                "{} passed, {} failed\n",
                results.len() - failed,
                failed
            ));
            if let Some(path) = junit {
                std::fs::write(path, ruletest::junit(&results))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            report::ignore_broken_pipe(out.write_all(text.as_bytes()).and_then(|_| out.flush()))?;
            Ok(if failed == 0 {
                super::exit::OK
            } else {
                super::exit::ERROR
            })
        }
    }
}
