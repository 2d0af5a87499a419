//! The case folder `analyze --out DIR` writes: machine-readable results for other tools and for
//! the report (schemas in docs/output.md).

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::csv::defuse;
use super::outputs::AtomicFile;
use crate::impact::{Impact, NotificationList, Recipient, SentBy, Verdict};
use crate::normalize::time;

/// Writes `value` as pretty JSON into `dir/name` (under a temporary name, then renamed).
pub fn write_json<T: Serialize + ?Sized>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let mut out = AtomicFile::create(&dir.join(name))?;
    serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.commit()
}

/// `summary.json`: per user verdict, score, window and attacker IPs; tenant-wide counts.
pub fn summary(impact: &Impact, findings_total: usize, users_in_evidence: usize) -> Value {
    let users: Vec<Value> = impact
        .users
        .iter()
        .map(|u| {
            json!({
                "user": u.user,
                "verdict": u.verdict,
                "score": u.score,
                "rules": u.rules,
                "window": u.window.as_ref().map(|w| json!({
                    "start": time::format(&w.start),
                    "end": time::format(&w.end),
                    "containment": w.containment.iter().map(|c| json!({
                        "time": time::format(&c.time), "action": c.action,
                        "operation": c.operation, "actor": c.actor,
                    })).collect::<Vec<_>>(),
                    "attacker_events_after_containment": w.after_containment.len(),
                })),
                "attacker_ips": u.footprint.ips.iter().map(|k| &k.key).collect::<Vec<_>>(),
                "attacker_sessions": u.footprint.sessions.iter().map(|k| &k.key).collect::<Vec<_>>(),
                "attacker_asns": u.footprint.asns,
                "ips_left_out": u.footprint.excluded_ips,
                "recipients_to_notify": u.recipients.to_notify(),
                "recipients_sent_by": {
                    "attacker": u.recipients.sent_by(SentBy::Attacker),
                    "unknown": u.recipients.sent_by(SentBy::Unknown),
                    "user": u.recipients.sent_by(SentBy::User),
                },
                "forwarding_targets": u.blast_radius.forwarding_targets,
                "accounts_reached": u.accounts_reached,
            })
        })
        .collect();
    let count = |v: Verdict| impact.users.iter().filter(|u| u.verdict == v).count();
    json!({
        "tenant_domains": impact.tenant_domains,
        "counts": {
            "users_in_evidence": users_in_evidence,
            "compromised": count(Verdict::Compromised),
            "suspicious": count(Verdict::Suspicious),
            "targeted": count(Verdict::Targeted),
            "clean": users_in_evidence.saturating_sub(count(Verdict::Compromised) + count(Verdict::Suspicious) + count(Verdict::Targeted)),
            "findings": findings_total,
        },
        "users": users,
        "actors": impact.actors,
    })
}

/// `blast_radius.json`: per compromised user the footprint (with why and how sure), window and
/// blast radius.
pub fn blast_radius(impact: &Impact) -> BlastRadiusFile<'_> {
    BlastRadiusFile {
        users: impact
            .users
            .iter()
            .filter(|u| u.verdict == Verdict::Compromised)
            .map(|u| BlastRadiusUser {
                user: &u.user,
                window: &u.window,
                footprint: &u.footprint,
                attacker_events: &u.attacker_events,
                blast_radius: &u.blast_radius,
                accounts_reached: &u.accounts_reached,
                pivots: &u.pivots,
                common_pivot_keys: &u.common_pivot_keys,
            })
            .collect(),
    }
}

/// `blast_radius.json`, serialized straight from the assessment (no JSON tree in between: the
/// file runs to hundreds of megabytes when attackers read whole mailboxes).
#[derive(Serialize)]
pub struct BlastRadiusFile<'a> {
    users: Vec<BlastRadiusUser<'a>>,
}

/// One compromised account of `blast_radius.json`.
#[derive(Serialize)]
struct BlastRadiusUser<'a> {
    user: &'a str,
    window: &'a Option<crate::impact::CompromiseWindow>,
    footprint: &'a crate::impact::Footprint,
    attacker_events: &'a [crate::impact::AttributedEvent],
    blast_radius: &'a crate::impact::blast_radius::BlastRadius,
    accounts_reached: &'a [String],
    pivots: &'a [crate::impact::pivots::Pivot],
    common_pivot_keys: &'a [crate::impact::pivots::CommonKey],
}

/// Recipients CSV header: one row per recipient (and per forwarding target), for a mail merge.
/// `sent_by` and `sent_by_reason` come last, so the earlier columns keep their places.
pub const RECIPIENT_COLUMNS: &[&str] = &[
    "user",
    "kind",
    "recipient",
    "domain",
    "internal",
    "first",
    "last",
    "count",
    "subjects",
    "statuses",
    "message_ids",
    "sent_by",
    "sent_by_reason",
];

/// Writes notification lists as CSV, per list: the recipients to notify (mail the attacker sent
/// or of unknown origin) grouped by domain, the forwarding targets, then apart the recipients of
/// mail the user sent themselves (`sent_by` = `user`, not to notify).
pub fn write_recipients(
    out: &mut dyn Write,
    lists: &[(&NotificationList, &[String])],
    tenant: &[String],
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(RECIPIENT_COLUMNS)?;
    for (list, forwards) in lists {
        let row = |r: &Recipient| {
            [
                list.user.clone(),
                "recipient".to_string(),
                r.recipient.clone(),
                r.domain.clone(),
                r.internal.to_string(),
                time::format(&r.first),
                time::format(&r.last),
                r.count.to_string(),
                r.subjects.join(" | "),
                r.statuses.join(" | "),
                r.message_ids.join(" "),
                r.sent_by.as_str().to_string(),
                r.sent_by_reason.clone(),
            ]
        };
        for r in &list.recipients {
            w.write_record(row(r).iter().map(|c| defuse(c).into_owned()))?;
        }
        for f in forwards.iter() {
            let domain = crate::impact::recipients::domain_of(f);
            let mut row: Vec<String> = vec![String::new(); RECIPIENT_COLUMNS.len()];
            row[0] = list.user.clone();
            row[1] = "forwarding-target".to_string();
            row[2] = f.clone();
            row[4] = tenant.contains(&domain).to_string();
            row[3] = domain;
            w.write_record(row.iter().map(|c| defuse(c).into_owned()))?;
        }
        for r in &list.user_sent {
            w.write_record(row(r).iter().map(|c| defuse(c).into_owned()))?;
        }
    }
    w.flush()
}

/// Everything one `analyze` run produced, for the case folder.
pub struct Case<'a> {
    pub ingested: &'a crate::ingest::Ingested,
    pub ips: &'a crate::enrich::Enrichment,
    pub findings: &'a [crate::detect::Finding],
    pub impact: &'a Impact,
    /// The command line, for the record.
    pub command: Vec<String>,
    /// Where the timelines come from when the events are not all in `ingested` (the
    /// partitioned path: `ingested.events` then holds only what the reports show).
    pub groups: Option<&'a dyn EventGroups>,
}

/// What [`EventGroups::each_group`] calls with a group: its events and whose timelines it holds.
pub type GroupFn<'f> =
    dyn FnMut(&[crate::model::Event], &dyn Fn(&str) -> bool) -> io::Result<()> + 'f;

/// The events, a group of accounts at a time, groups in the order of their accounts' names.
pub trait EventGroups {
    /// Calls `f` with each group's events (sorted by time and origin) and a test of whether an
    /// account's timeline is this group's (its events may hold others' copies).
    /// `only`: the groups holding one of these accounts' timelines (lower case), or all.
    fn each_group(&self, only: Option<&[String]>, f: &mut GroupFn) -> io::Result<()>;
}

/// Every event at hand: one group that holds every timeline.
pub struct AllEvents<'a>(pub &'a [crate::model::Event]);

impl EventGroups for AllEvents<'_> {
    fn each_group(&self, _only: Option<&[String]>, f: &mut GroupFn) -> io::Result<()> {
        f(self.0, &|_| true)
    }
}

/// The files `analyze --out DIR` writes, in the order they are written.
pub const CASE_FILES: &[&str] = &[
    "summary.json",
    "findings.json",
    "blast_radius.json",
    "recipients.csv",
    "timeline.csv",
    "ingest.json",
    "rejects.csv",
];

/// The reports for people `analyze --out DIR` writes after [`CASE_FILES`]. `report.html` shows
/// the command line, so it differs between runs with different options.
pub const REPORT_FILES: &[&str] = &["report.html", "report.md"];

/// Which events `timeline.csv` holds (`analyze --timeline-csv`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineCsv {
    /// The timelines of the flagged accounts (compromised, suspicious, targeted).
    #[default]
    Flagged,
    /// Every account's timeline.
    All,
    /// No timeline.csv (timeline.parquet has every event).
    None,
}

/// Writes the case folder: into a staging folder next to `dir` that then replaces `dir` whole
/// (a previous case there is replaced, a folder holding other files is refused; see
/// [`super::outputs::write_case_folder`]). `extra` writes more files (timeline.parquet) into
/// the staging folder. Evidence is never written to, only read.
pub fn write_folder(
    dir: &Path,
    case: &Case,
    timeline_csv: TimelineCsv,
    extra: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    super::outputs::write_case_folder(dir, |staging| {
        write_files(staging, case, timeline_csv)?;
        extra(staging)
    })
}

/// What the verdict files (`summary.json`, `findings.json`, `blast_radius.json`,
/// `recipients.csv`) are made of: `analyze` has it from one process, `stage combine` from the
/// groups' results (docs/stages.md).
pub struct Verdicts<'a> {
    pub findings: &'a [crate::detect::Finding],
    pub impact: &'a Impact,
    pub evidence: crate::ingest::EvidenceRead,
    pub users_in_evidence: usize,
    /// The GeoIP databases, as `summary.json` lists them.
    pub databases: Value,
    pub command: &'a [String],
}

/// Writes `summary.json`, `findings.json`, `blast_radius.json` and `recipients.csv` into `dir`.
pub fn write_verdicts(dir: &Path, v: &Verdicts) -> io::Result<()> {
    let mut summary = summary(v.impact, v.findings.len(), v.users_in_evidence);
    if let Some(map) = summary.as_object_mut() {
        map.insert(
            "tool".into(),
            json!({
                "name": "breachline",
                "version": env!("CARGO_PKG_VERSION"),
                "command": v.command,
            }),
        );
        map.insert(
            "evidence".into(),
            serde_json::to_value(&v.evidence).unwrap_or(Value::Null),
        );
        map.insert("geoip".into(), v.databases.clone());
    }
    write_json(dir, "summary.json", &summary)?;
    write_json(dir, "findings.json", v.findings)?;
    write_json(dir, "blast_radius.json", &blast_radius(v.impact))?;
    let compromised: Vec<(&NotificationList, &[String])> = v
        .impact
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Compromised)
        .map(|u| (&u.recipients, u.blast_radius.forwarding_targets.as_slice()))
        .collect();
    let mut out = AtomicFile::create(&dir.join("recipients.csv"))?;
    write_recipients(&mut out, &compromised, &v.impact.tenant_domains)?;
    out.commit()
}

/// `ingest.json`: every file's report, what was skipped, coverage and the rejected count.
pub fn ingest_report(ing: &crate::ingest::Ingested) -> Value {
    json!({
        "files": ing.files,
        "skipped": ing.skipped,
        "coverage": ing.coverage,
        "rejected": ing.rejects_total,
    })
}

/// Writes every case file into `dir`, each under a temporary name then renamed.
pub fn write_files(dir: &Path, case: &Case, timeline_csv: TimelineCsv) -> io::Result<()> {
    let ing = case.ingested;
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let t = std::time::Instant::now();
    write_verdicts(
        dir,
        &Verdicts {
            findings: case.findings,
            impact: case.impact,
            evidence: ing.evidence_read(),
            users_in_evidence: ing.coverage.users.len(),
            databases: serde_json::to_value(&case.ips.databases).unwrap_or(Value::Null),
            command: &case.command,
        },
    )?;
    let t = crate::timing::lap("write the verdict files", t);
    if timeline_csv != TimelineCsv::None {
        // Flagged: those accounts' timelines, laid out as for everyone (per user, in name order).
        let users: Option<Vec<String>> = match timeline_csv {
            TimelineCsv::Flagged => {
                let mut u: Vec<String> = case
                    .impact
                    .flagged()
                    .iter()
                    .map(|u| u.user.clone())
                    .collect();
                u.sort();
                Some(u)
            }
            _ => None,
        };
        let filter = crate::timeline::Filter {
            users: users.clone().unwrap_or_default(),
            ..crate::timeline::Filter::default()
        };
        let mut out = AtomicFile::create(&dir.join("timeline.csv"))?;
        {
            let mut w = super::csv::timeline_writer(&mut out)?;
            let all = AllEvents(&ing.events);
            // No flagged account: a header-only file (an empty filter would keep everyone).
            if users.as_ref().is_none_or(|u| !u.is_empty()) {
                case.groups
                    .unwrap_or(&all)
                    .each_group(users.as_deref(), &mut |events, owns| {
                        let mut timelines = crate::timeline::build(events, &filter);
                        timelines.retain(|t| owns(&t.user));
                        super::csv::write_timeline_rows(&mut w, &timelines, &files, case.ips)
                    })?;
            }
            w.flush()?;
        }
        out.commit()?;
    }
    let t = crate::timing::lap("write timeline.csv", t);
    write_json(dir, "ingest.json", &ingest_report(ing))?;
    {
        let mut out = AtomicFile::create(&dir.join("rejects.csv"))?;
        super::csv::write_all_rejects(&mut out, ing)?;
        out.commit()?;
    }
    let t = crate::timing::lap("write ingest.json and rejects.csv", t);
    {
        let mut out = AtomicFile::create(&dir.join("report.html"))?;
        super::html::write(&mut out, case)?;
        out.commit()?;
    }
    let t = crate::timing::lap("write report.html", t);
    let mut out = AtomicFile::create(&dir.join("report.md"))?;
    out.write_all(super::markdown::render(case).as_bytes())?;
    out.commit()?;
    crate::timing::lap("write report.md", t);
    Ok(())
}
