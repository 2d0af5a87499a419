//! The pipeline as separable steps over groups of accounts (docs/stages.md): profile, context,
//! peaks, assess, pivots and combine. `analyze` is these steps over one group that holds every
//! account; `breachline stage` runs each one on its own, so a scheduler (Spark: `spark/`) can
//! spread the groups over machines. Every decision is made by the same code in both cases, and
//! tests/stages.rs checks the case files come out byte-identical.
//!
//! What needs every account is carried between steps as small summaries: the per-address
//! profile (enrichment), the tenant's domains, the accounts' daily peaks (peers' reference),
//! the verdicts (accounts reached) and the attackers' keys (pivots).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::detect::{self, Finding, Peaks, Rule};
use crate::enrich::{Enrichment, GeoIp, IpDigest, IpProfile, NetworkConfig};
use crate::impact::blast_radius::TraceRow;
use crate::impact::{
    self,
    pivots::{CommonKey, Pivot},
    ActorFindings, Impact, ImpactOptions, UserImpact, Verdict,
};
use crate::ingest::Ingested;
use crate::model::{Event, Source};

pub mod partitioned;

/// The version of the JSON files exchanged between steps; a step refuses another.
pub const SCHEMA: u32 = 2;

/// The accounts a step decides about: every account (`analyze`), or a group's (the distinct
/// `timeline_user` values of its rows). Names in lower case.
#[derive(Clone, Debug)]
pub enum Accounts {
    All,
    Only(FxHashSet<String>),
    /// The accounts whose names are in this range: a group of the partitioned path.
    Names(crate::ingest::spill::NameRange),
}

impl Accounts {
    /// The accounts whose rows are in these breachline Parquet files (`timeline_user`).
    #[cfg(feature = "parquet")]
    pub fn of_groups(paths: &[PathBuf]) -> anyhow::Result<Accounts> {
        let mut set = FxHashSet::default();
        for p in group_files(paths)? {
            let (_, cols) = crate::report::parquet::read_columns(&p, &["timeline_user"])
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            set.extend(cols.into_iter().flatten().flatten());
        }
        Ok(Accounts::Only(set))
    }

    #[cfg(not(feature = "parquet"))]
    pub fn of_groups(_paths: &[PathBuf]) -> anyhow::Result<Accounts> {
        anyhow::bail!("this build has no Parquet support (built without the parquet feature)")
    }

    /// Whether the account (any case) is one of these.
    pub fn owns(&self, user: &str) -> bool {
        match self {
            Accounts::All => true,
            Accounts::Only(set) => {
                if user.bytes().any(|b| b.is_ascii_uppercase()) {
                    set.contains(&user.to_ascii_lowercase())
                } else {
                    set.contains(user)
                }
            }
            Accounts::Names(range) => range.contains(user),
        }
    }

    /// Whether the event is counted here: its actor is one of these accounts. Every event is
    /// in its actor's rows, so across groups each event counts once.
    pub fn counts(&self, e: &Event) -> bool {
        self.owns(&e.user)
    }
}

/// A group's files: each path given, or the `.parquet` files directly inside a folder (a
/// Spark output folder of part files), in name order.
pub fn group_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet") && p.is_file())
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// What one group contributes to the tenant-wide context (`profile.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub schema: u32,
    /// Per address: events, exported values, accounts and days of use, password failures.
    pub ips: IpProfile,
    /// Mail domains of the accounts that sign in or act in the audit log.
    pub domains: BTreeSet<String>,
    /// Events the group's accounts did (each event counts in its actor's group).
    pub events: u64,
    /// Distinct actors among them (the users of `ingest.json` coverage).
    pub users: u64,
    /// Sources with at least one such event.
    pub sources: BTreeSet<Source>,
}

/// Profiles the events the accounts did.
pub fn profile(ing: &Ingested, accounts: &Accounts) -> Profile {
    let now = chrono::Utc::now();
    let counted: Vec<&Event> = ing.events.iter().filter(|e| accounts.counts(e)).collect();
    let domains = detect::tenant::domains_of(&ing.events, |e| accounts.counts(e));
    Profile {
        schema: SCHEMA,
        ips: IpProfile::of(&ing.events, |e| accounts.counts(e)),
        domains: domains.into_iter().collect(),
        events: counted.len() as u64,
        users: ing
            .coverage
            .users
            .iter()
            .filter(|u| accounts.owns(&u.user))
            .count() as u64,
        // As `ingest.json` coverage counts them: events with a plausible time.
        sources: counted
            .iter()
            .filter(|e| crate::ingest::accounting::plausible(e.time, now))
            .map(|e| e.source)
            .collect(),
    }
}

/// What every group's later steps need to know about the whole tenant (`context.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Context {
    pub schema: u32,
    /// Every group's profile, merged, but its addresses (see `addresses`).
    pub profile: Profile,
    /// Every address of the merged profiles, finished: what later steps look up again, without
    /// the accounts and days of use behind it, so the context grows with the addresses only.
    pub addresses: IpDigest,
    /// Given with `--tenant-domain`, else inferred from the profiles.
    pub tenant_domains: Vec<String>,
    /// The peers' reference, once the peaks step has run (absent: no rule compares accounts
    /// with their peers, or that step is still to come).
    pub peaks: Option<Peaks>,
    /// The GeoIP databases the context was made with (as `summary.json` lists them); later
    /// steps must open the same.
    pub databases: serde_json::Value,
}

impl Context {
    /// Merges the groups' profiles; `tenant` (from `--tenant-domain`) wins over the inference.
    pub fn new(
        profiles: Vec<Profile>,
        tenant: &[String],
        geo: &GeoIp,
        nets: &NetworkConfig,
    ) -> Context {
        let mut merged = Profile {
            schema: SCHEMA,
            ..Profile::default()
        };
        for p in profiles {
            merged.ips.merge(p.ips);
            merged.domains.extend(p.domains);
            merged.events += p.events;
            merged.users += p.users;
            merged.sources.extend(p.sources);
        }
        let tenant_domains = if tenant.is_empty() {
            merged.domains.iter().cloned().collect()
        } else {
            // As given, in order: `analyze --tenant-domain` reports them so.
            tenant.iter().map(|d| d.trim().to_lowercase()).collect()
        };
        let addresses = std::mem::take(&mut merged.ips).digest(geo, nets);
        Context {
            schema: SCHEMA,
            profile: merged,
            addresses,
            tenant_domains,
            peaks: None,
            databases: databases(geo),
        }
    }

    /// The address table: every address looked up, shared egress and spray sources judged on
    /// the whole tenant's profile. An error when the databases differ from the context's.
    pub fn enrichment(&self, geo: &GeoIp, nets: &NetworkConfig) -> anyhow::Result<Enrichment> {
        if databases(geo) != self.databases {
            anyhow::bail!(
                "the GeoIP databases differ from the ones the context was made with: give every step the same --geoip-city / --geoip-asn files"
            );
        }
        Ok(self.addresses.finish(geo, nets))
    }
}

/// The databases a GeoIP opened, as `summary.json` lists them.
pub fn databases(geo: &GeoIp) -> serde_json::Value {
    serde_json::to_value(geo.databases()).unwrap_or_default()
}

/// Reads a JSON file one step wrote, checking its schema number.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
    let schema = value.get("schema").and_then(serde_json::Value::as_u64);
    if schema != Some(u64::from(SCHEMA)) {
        anyhow::bail!(
            "{}: written by another version of breachline (schema {:?}, this one reads {SCHEMA})",
            path.display(),
            schema
        );
    }
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The accounts' daily peaks for the rules that compare with peers (`peaks.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeaksFile {
    pub schema: u32,
    pub peaks: Peaks,
}

/// Detection for the accounts (and of them, `users` when given): the findings before the
/// peers' reference is applied, and the accounts' own daily peaks.
pub fn detect_accounts(
    ing: &Ingested,
    ips: &Enrichment,
    rules: &[Rule],
    accounts: &Accounts,
    users: &[String],
    ctx: &Context,
) -> (Vec<Finding>, Peaks) {
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let accept = |u: &str| accounts.owns(u) && (users.is_empty() || users.iter().any(|x| x == u));
    detect::run_accounts(
        &ing.events,
        ips,
        rules,
        &files,
        &accept,
        &ctx.tenant_domains,
    )
}

/// Whether a rule compares an account with its peers (`history_factor`): a group's assess
/// step then needs the peaks step's reference in the context.
pub fn needs_peaks(rules: &[Rule]) -> bool {
    rules.iter().any(|r| {
        matches!(
            r.logic,
            detect::rule::Logic::Threshold {
                history: Some(_),
                ..
            }
        )
    })
}

/// The accounts' daily peaks, for the peers' reference.
pub fn peaks(
    ing: &Ingested,
    ips: &Enrichment,
    rules: &[Rule],
    accounts: &Accounts,
    ctx: &Context,
) -> Peaks {
    detect_accounts(ing, ips, rules, accounts, &[], ctx).1
}

/// One group's findings and assessed accounts (`result.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupResult {
    pub schema: u32,
    pub findings: Vec<Finding>,
    /// Every account with findings, before the steps that need every verdict (accounts
    /// reached) and every account's events (pivots).
    pub users: Vec<UserImpact>,
    pub actors: Vec<ActorFindings>,
    /// Per compromised account, the messages the attacker read or deleted: their other
    /// recipients' trace rows may sit in other groups (`stage pivots` gathers them).
    #[serde(default)]
    pub exposed: BTreeMap<String, Vec<String>>,
}

/// Detection, then attribution, window, blast radius and notification list for each of the
/// accounts with findings. `users` narrows detection to those accounts (`--user`).
pub fn assess(
    ing: &Ingested,
    ips: &Enrichment,
    rules: &[Rule],
    accounts: &Accounts,
    users: &[String],
    ctx: &Context,
) -> GroupResult {
    let detected = detect_accounts(ing, ips, rules, accounts, users, ctx);
    assess_detected(ing, ips, rules, ctx, detected)
}

/// [`assess`] once [`detect_accounts`] has run.
pub fn assess_detected(
    ing: &Ingested,
    ips: &Enrichment,
    rules: &[Rule],
    ctx: &Context,
    (findings, own_peaks): (Vec<Finding>, Peaks),
) -> GroupResult {
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    // Every account here (analyze): its own peaks are the tenant's. A group needs the peaks
    // step's (`needs_peaks`).
    let findings = detect::with_peers(rules, findings, ctx.peaks.as_ref().unwrap_or(&own_peaks));
    let leads = impact::leads_from_findings(&ing.events, &files, &findings);
    let opts = ImpactOptions {
        tenant_domains: ctx.tenant_domains.clone(),
        ..ImpactOptions::default()
    };
    let assessed = impact::assess_accounts(&ing.events, &files, ips, &leads, &opts);
    let exposed = assessed
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Compromised)
        .map(|u| {
            let ids = impact::blast_radius::exposed_ids(&ing.events, &u.footprint);
            (
                u.user.clone(),
                ids.into_iter().map(str::to_string).collect(),
            )
        })
        .filter(|(_, ids): &(String, Vec<String>)| !ids.is_empty())
        .collect();
    GroupResult {
        schema: SCHEMA,
        findings,
        users: assessed.users,
        actors: assessed.actors,
        exposed,
    }
}

/// What links a group to the compromised accounts of every group (`pivots.json`): per
/// compromised account, the group's accounts that share a key with its attacker, and the
/// group's message-trace rows of the messages the attacker read or deleted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PivotsFile {
    pub schema: u32,
    pub pivots: BTreeMap<String, Vec<Pivot>>,
    #[serde(default)]
    pub trace: BTreeMap<String, Vec<TraceRow>>,
    /// Per compromised account, the user agents and networks this group's accounts share with
    /// its attacker too often to list (counted; `combine` adds the groups' counts up).
    #[serde(default)]
    pub common: BTreeMap<String, Vec<CommonKey>>,
}

/// The group's accounts that share a key with each compromised account's attacker, and the
/// group's trace rows of the messages each attacker was exposed to (each row counts in its
/// sender's group).
pub fn pivots(
    ing: &Ingested,
    ips: &Enrichment,
    accounts: &Accounts,
    results: &[GroupResult],
    users_in_evidence: u64,
) -> PivotsFile {
    let mut out = PivotsFile {
        schema: SCHEMA,
        ..PivotsFile::default()
    };
    let compromised = compromised(results);
    let keys: Vec<(&str, &impact::Footprint, &impact::blast_radius::BlastRadius)> = compromised
        .iter()
        .map(|u| (u.user.as_str(), &u.footprint, &u.blast_radius))
        .collect();
    let limit = impact::pivots::common_limit(users_in_evidence);
    let found = impact::pivots::pivots_many(&ing.events, |e| accounts.counts(e), ips, &keys, limit);
    for (u, (list, common)) in compromised.iter().zip(found) {
        if !list.is_empty() {
            out.pivots.insert(u.user.clone(), list);
        }
        if !common.is_empty() {
            out.common.insert(u.user.clone(), common);
        }
    }
    // One pass over the trace rows for every account's exposed messages.
    let mut wanted: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in results {
        for (user, ids) in &r.exposed {
            for id in ids {
                wanted.entry(id.as_str()).or_default().push(user.as_str());
            }
        }
    }
    if !wanted.is_empty() {
        for e in ing
            .events
            .iter()
            .filter(|e| e.source == Source::Messagetrace && accounts.counts(e))
        {
            let Some(users) = e.attr("message_id").and_then(|id| wanted.get(id)) else {
                continue;
            };
            for user in users {
                out.trace
                    .entry(user.to_string())
                    .or_default()
                    .push(TraceRow::of(e));
            }
        }
    }
    out
}

/// The compromised accounts among the groups' results.
pub fn compromised(results: &[GroupResult]) -> Vec<&UserImpact> {
    results
        .iter()
        .flat_map(|r| r.users.iter())
        .filter(|u| u.verdict == Verdict::Compromised)
        .collect()
}

/// Every group's compromised accounts and what their attackers were exposed to, as one result
/// without findings (`attackers.json`): all that `pivots` reads of the results, so that each
/// group's pivots step reads one small file instead of every group's results.
pub fn attackers(results: Vec<GroupResult>) -> GroupResult {
    let mut out = GroupResult {
        schema: SCHEMA,
        ..GroupResult::default()
    };
    for r in results {
        out.users.extend(
            r.users
                .into_iter()
                .filter(|u| u.verdict == Verdict::Compromised),
        );
        out.exposed.extend(r.exposed);
    }
    out.users.sort_by(|a, b| a.user.cmp(&b.user));
    out
}

/// Every group's results as one case: findings in their total order, accounts by name, the
/// accounts each attacker's mail reached, and the pivots.
pub fn combine(
    results: Vec<GroupResult>,
    pivots: Vec<PivotsFile>,
    ctx: &Context,
    accounts: u64,
) -> (Vec<Finding>, Impact) {
    let mut findings = Vec::new();
    let mut users = Vec::new();
    let mut actors = Vec::new();
    for r in results {
        findings.extend(r.findings);
        users.extend(r.users);
        actors.extend(r.actors);
    }
    findings.sort_by(Finding::order);
    users.sort_by(|a, b| a.user.cmp(&b.user));
    actors.sort_by(|a, b| a.actor.cmp(&b.actor));
    impact::reach(&mut users);
    let mut found: BTreeMap<String, Vec<Pivot>> = BTreeMap::new();
    let mut common: BTreeMap<String, Vec<CommonKey>> = BTreeMap::new();
    let mut trace: BTreeMap<String, Vec<TraceRow>> = BTreeMap::new();
    for p in pivots {
        for (user, list) in p.pivots {
            found.entry(user).or_default().extend(list);
        }
        for (user, list) in p.common {
            common.entry(user).or_default().extend(list);
        }
        for (user, rows) in p.trace {
            trace.entry(user).or_default().extend(rows);
        }
    }
    for u in users.iter_mut() {
        let partial = common.remove(&u.user).unwrap_or_default();
        let mut list = found.remove(&u.user).unwrap_or_default();
        if !list.is_empty() || !partial.is_empty() {
            list.sort();
            (u.pivots, u.common_pivot_keys) = impact::pivots::split_common(list, partial, accounts);
        }
        // Correspondents from every group's trace rows, not only this account's group's.
        if let Some(mut rows) = trace.remove(&u.user) {
            rows.sort();
            rows.dedup();
            u.blast_radius.exposed_correspondents = impact::blast_radius::correspondents(
                rows.into_iter(),
                &u.user,
                &ctx.tenant_domains,
            );
        }
    }
    (
        findings,
        Impact {
            tenant_domains: ctx.tenant_domains.clone(),
            users,
            actors,
        },
    )
}

/// The whole of it in one process over every account (`analyze`): assess, link and combine,
/// with the tenant's domains given or inferred from every event and each account's peers all
/// at hand.
pub fn in_memory(
    ing: &Ingested,
    ips: &Enrichment,
    rules: &[Rule],
    users: &[String],
    tenant: &[String],
) -> (Vec<Finding>, Impact) {
    let tenant_domains = if tenant.is_empty() {
        impact::recipients::tenant_domains(&ing.events)
    } else {
        tenant.iter().map(|d| d.trim().to_lowercase()).collect()
    };
    let ctx = Context {
        schema: SCHEMA,
        tenant_domains,
        ..Context::default()
    };
    let t = std::time::Instant::now();
    let result = assess(ing, ips, rules, &Accounts::All, users, &ctx);
    let t = crate::timing::lap("detect and assess", t);
    let users_in_evidence = ing.coverage.users.len() as u64;
    let links = pivots(
        ing,
        ips,
        &Accounts::All,
        std::slice::from_ref(&result),
        users_in_evidence,
    );
    let t = crate::timing::lap("pivots", t);
    let combined = combine(
        vec![result],
        vec![links],
        &ctx,
        ing.coverage.users.len() as u64,
    );
    crate::timing::lap("combine", t);
    combined
}
