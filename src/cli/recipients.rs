//! `breachline recipients`: the notification list for one user and window: every recipient of
//! mail from the account, internal and external, with first and last time, count, subjects and
//! delivery status, grouped by recipient domain, and who sent it (the attacker, the user, or
//! unknown) from the footprint `analyze` works out; the user's own mail is listed apart.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use super::args::{parse_instant, stderr_summary, EvidenceArgs};
use super::rules::RuleSelection;
use super::Cli;
use crate::impact::recipients;
use crate::report;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RecipientFormat {
    /// A table for the terminal.
    Table,
    /// The mail-merge CSV (columns in docs/output.md).
    Csv,
    /// The list as JSON, with each recipient's evidence rows.
    Json,
}

#[derive(Args, Debug)]
pub struct RecipientsArgs {
    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// The account whose outgoing mail is listed (any case).
    #[arg(long, short, value_name = "UPN")]
    pub user: String,

    /// Start of the window (ISO 8601; UTC unless an offset is given). With neither --from nor
    /// --to: the compromise window `analyze` works out for the user, else the whole evidence.
    #[arg(long, value_parser = parse_instant, value_name = "TIME")]
    pub from: Option<DateTime<Utc>>,

    /// End of the window.
    #[arg(long, value_parser = parse_instant, value_name = "TIME")]
    pub to: Option<DateTime<Utc>>,

    #[command(flatten)]
    pub selection: RuleSelection,

    /// The tenant's own domains (repeatable); inferred from the sign-in accounts when absent.
    #[arg(long, value_name = "DOMAIN")]
    pub tenant_domain: Vec<String>,

    #[arg(long, short, value_enum, default_value_t = RecipientFormat::Table)]
    pub format: RecipientFormat,

    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: &RecipientsArgs, cli: &Cli) -> anyhow::Result<u8> {
    let rules = args.selection.load()?;
    let mut outputs = args.evidence.outputs();
    if let Some(o) = &args.output {
        outputs.push(crate::report::outputs::OutputPath::File(o));
    }
    crate::report::outputs::check_no_overlap(&args.evidence.paths, &outputs)?;
    let (ing, ips) = args.evidence.load(cli.quiet)?;
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let tenant = if args.tenant_domain.is_empty() {
        recipients::tenant_domains(&ing.events)
    } else {
        args.tenant_domain
            .iter()
            .map(|d| d.trim().to_lowercase())
            .collect()
    };
    let user = args.user.trim().to_lowercase();
    // The footprint `analyze` works out for the account tells the attacker's mail from the
    // user's; without one every message is of unknown origin.
    let (_, assessed) = super::analyze::assess(
        &ing,
        &ips,
        &rules.rules,
        std::slice::from_ref(&user),
        &tenant,
    );
    let assessed_user = assessed.users.iter().find(|u| u.user == user);
    let footprint = assessed_user
        .map(|u| &u.footprint)
        .filter(|f| !f.is_empty());
    let (from, to) = if args.from.is_none() && args.to.is_none() {
        let window = assessed_user
            .filter(|u| u.verdict == crate::impact::Verdict::Compromised)
            .and_then(|u| u.window.as_ref());
        match window {
            Some(w) => {
                crate::report::terminal::eprint_line(&format!(
                    "breachline: window {} to {} (the compromise window worked out from the findings; --from / --to to choose another)",
                    crate::normalize::time::format(&w.start),
                    crate::normalize::time::format(&w.end)
                ));
                (Some(w.start), Some(w.end))
            }
            None => {
                crate::report::terminal::eprint_line(&format!("breachline: {user} is not found compromised: listing mail over the whole evidence (--from / --to to choose a window)"));
                (None, None)
            }
        }
    } else {
        (args.from, args.to)
    };
    if footprint.is_none() {
        crate::report::terminal::eprint_line(&format!("breachline: no attacker footprint for {user}: every message is of unknown origin (sent_by = unknown)"));
    }
    let list =
        recipients::notification_list(&ing.events, &files, &user, from, to, &tenant, footprint);
    let mut out = report::output(args.output.as_deref())?;
    let written = match args.format {
        RecipientFormat::Csv => report::case::write_recipients(&mut out, &[(&list, &[])], &tenant),
        RecipientFormat::Json => serde_json::to_writer_pretty(&mut out, &list)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n")),
        RecipientFormat::Table => out.write_all(report::table::recipients(&list).as_bytes()),
    };
    report::ignore_broken_pipe(written.and_then(|_| out.flush()))?;
    out.finish()?;
    if list.recipients.is_empty() && list.user_sent.is_empty() {
        crate::report::terminal::eprint_line(&format!(
            "breachline: no mail from {} in the evidence and window given",
            list.user
        ));
    } else if !list.user_sent.is_empty() {
        crate::report::terminal::eprint_line(&format!(
            "breachline: {} recipients to notify; {} rows of mail the user sent themselves are listed apart (sent_by = user), not to notify",
            list.to_notify(),
            list.user_sent.len()
        ));
    }
    if !list.untraced_sends.is_empty() {
        crate::report::terminal::eprint_line(&format!(
            "breachline: {} messages sent per the audit log have no message-trace row: their recipients are not in this list (see --format json, untraced_sends)",
            list.untraced_sends.len()
        ));
    }
    stderr_summary(&ing);
    Ok(args.evidence.exit_code(&ing))
}
