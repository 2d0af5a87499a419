//! `breachline explain ACCOUNT PATH...`: one account's story in time order, from the same
//! pipeline as `analyze` (the same evidence and rule options): the first signal, the attacker's
//! sign-ins, what was done in each session, containment and what came after it, each line citing
//! its evidence row.

use std::io::Write;

use clap::Args;

use super::analyze::assess;
use super::args::{stderr_summary, EvidenceArgs};
use super::rules::RuleSelection;
use super::Cli;
use crate::report;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The account whose story to tell (user principal name, any case).
    #[arg(value_name = "ACCOUNT")]
    pub account: String,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    #[command(flatten)]
    pub selection: RuleSelection,

    /// The tenant's own domains (repeatable), as for analyze; inferred when absent.
    #[arg(long, value_name = "DOMAIN")]
    pub tenant_domain: Vec<String>,
}

pub fn run(args: &ExplainArgs, cli: &Cli) -> anyhow::Result<u8> {
    let rules = args.selection.load()?;
    let (ing, enrichment) = args.evidence.load(cli.quiet)?;
    let account = args.account.trim().to_lowercase();
    // Every account is assessed, as in analyze: the verdicts of others decide who was reached.
    let (findings, assessed) = assess(&ing, &enrichment, &rules.rules, &[], &args.tenant_domain);
    let evidence = ing.evidence_read();
    let width = usize::from(report::terminal::width());
    let mut text = String::new();
    if let Some(w) = evidence.warning() {
        text.push_str(&report::layout::wrapped(
            &report::safe_line(&w),
            width,
            "",
            "  ",
        ));
        text.push('\n');
    }
    let files: Vec<String> = ing.files.iter().map(|f| f.path.clone()).collect();
    let citer = report::findings::Citer::new(&files);
    match assessed.users.iter().find(|u| u.user == account) {
        Some(u) => text.push_str(&report::story::render(
            u,
            &ing.events,
            &enrichment,
            &findings,
            &citer,
            width,
        )),
        None if evidence.nothing() => {}
        None => {
            let seen = ing
                .coverage
                .users
                .iter()
                .any(|c| c.user.eq_ignore_ascii_case(&account));
            let what = if seen {
                "clean: no finding on it in the evidence read"
            } else {
                "not in the evidence read (no event names it)"
            };
            text.push_str(&report::layout::wrapped(
                &format!("{}: {what}.", report::safe_line(&account)),
                width,
                "",
                "  ",
            ));
        }
    }
    let mut out = report::stdout();
    report::ignore_broken_pipe(out.write_all(text.as_bytes()).and_then(|_| out.flush()))?;
    stderr_summary(&ing);
    let mut code = args.evidence.exit_code(&ing);
    if evidence.nothing() {
        code = super::exit::NO_EVIDENCE;
    }
    std::mem::forget(ing);
    Ok(code)
}
