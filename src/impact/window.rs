//! The compromise window: first to last attacker activity, with the containment actions taken
//! on the account (password reset, session revocation, disabling, MFA reset) and any attacker
//! activity after them called out: a reset that did not revoke sessions is a common gap.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attribution::Footprint;
use super::Evidence;
use crate::model::{operation_eq, Event, Outcome, Source};

/// Entra audit operations that contain a compromised account, and what each does.
pub const CONTAINMENT_OPERATIONS: &[(&str, &str)] = &[
    ("Reset user password.", "password reset"),
    ("Change user password.", "password changed"),
    ("Reset password (by admin)", "password reset"),
    ("Change password (self-service)", "password changed"),
    ("Reset password (self-service)", "password reset"),
    ("Set force change user password.", "password change forced"),
    (
        "Update StsRefreshTokenValidFrom Timestamp.",
        "sessions revoked",
    ),
    ("Revoke user sessions", "sessions revoked"),
    ("Disable account.", "account disabled"),
    ("Admin deleted security info", "MFA methods removed"),
    ("Delete all registered security info", "MFA methods removed"),
    ("Reset MFA", "MFA reset"),
];

/// One containment action on the account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Containment {
    pub time: DateTime<Utc>,
    pub action: String,
    pub operation: String,
    pub actor: String,
    pub evidence: Evidence,
    #[serde(skip)]
    origin: (u32, u64, u32),
}

/// When the attacker was in the account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompromiseWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub containment: Vec<Containment>,
    /// Attacker events after the first containment action.
    pub after_containment: Vec<Evidence>,
}

/// The events that are containment actions on someone (their indexes, in order): found once,
/// then searched per account by [`containment`].
pub fn containment_actions(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(e.source, Source::Audit | Source::Directory)
                && e.outcome != Outcome::Failure
                && CONTAINMENT_OPERATIONS
                    .iter()
                    .any(|(op, _)| operation_eq(&e.operation, op))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Containment actions on `user`, among `actions` ([`containment_actions`]): by an admin (the
/// target is the user) or by the user.
pub fn containment(
    events: &[Event],
    actions: &[usize],
    files: &[String],
    user: &str,
) -> Vec<Containment> {
    actions
        .iter()
        .map(|i| &events[*i])
        .filter_map(|e| {
            let (_, action) = CONTAINMENT_OPERATIONS
                .iter()
                .find(|(op, _)| operation_eq(&e.operation, op))?;
            let on_user = if e.attr("target").is_some() {
                e.attr_all("target").any(|t| t.eq_ignore_ascii_case(user))
            } else {
                e.object
                    .as_deref()
                    .unwrap_or(&e.user)
                    .eq_ignore_ascii_case(user)
            };
            on_user.then(|| Containment {
                time: e.time,
                action: action.to_string(),
                operation: e.operation.to_string(),
                actor: e.user.to_string(),
                evidence: Evidence::of(e, files),
                origin: (e.origin.file, e.origin.record, e.origin.part),
            })
        })
        .collect()
}

/// The window of a footprint, or `None` when nothing was attributed.
pub fn window(
    events: &[Event],
    actions: &[usize],
    files: &[String],
    user: &str,
    footprint: &Footprint,
) -> Option<CompromiseWindow> {
    let first = footprint.events.first().map(|(i, _, _)| &events[*i])?;
    let last = footprint.events.last().map(|(i, _, _)| &events[*i])?;
    // The attacker changing the password is not containment.
    let theirs: std::collections::BTreeSet<(u32, u64, u32)> = footprint
        .events
        .iter()
        .map(|(i, _, _)| {
            (
                events[*i].origin.file,
                events[*i].origin.record,
                events[*i].origin.part,
            )
        })
        .collect();
    let containment: Vec<Containment> = containment(events, actions, files, user)
        .into_iter()
        .filter(|c| !theirs.contains(&c.origin))
        .collect();
    let after_containment = match containment.first() {
        Some(c) => footprint
            .events
            .iter()
            .map(|(i, _, _)| &events[*i])
            .filter(|e| e.time > c.time)
            .map(|e| Evidence::of(e, files))
            .collect(),
        None => Vec::new(),
    };
    Some(CompromiseWindow {
        start: first.time,
        end: last.time,
        containment,
        after_containment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operations a rule file lists under `operation: [...]` on the line after `key`.
    fn listed(rule: &str, key: &str) -> Vec<String> {
        let from = rule.find(key).expect("the rule has the key");
        let line = rule[from..]
            .lines()
            .find(|l| l.trim_start().starts_with("operation: ["))
            .expect("an operation list");
        let inner = line
            .split_once('[')
            .and_then(|(_, r)| r.rsplit_once(']'))
            .expect("brackets")
            .0;
        inner.split(',').map(|s| s.trim().to_string()).collect()
    }

    #[test]
    fn the_containment_rules_list_the_same_operations_as_the_window() {
        let known: Vec<&str> = CONTAINMENT_OPERATIONS.iter().map(|(op, _)| *op).collect();
        let reset = include_str!("../../rules/password-reset.yaml");
        let after = include_str!("../../rules/signin-after-containment.yaml");
        for op in listed(reset, "match:")
            .iter()
            .chain(&listed(after, "first:"))
        {
            assert!(
                known.contains(&op.as_str()),
                "{op} is containment in a rule but not in window.rs"
            );
        }
        let password_or_revoke: Vec<&str> = CONTAINMENT_OPERATIONS
            .iter()
            .filter(|(_, what)| what.starts_with("password") || *what == "sessions revoked")
            .map(|(op, _)| *op)
            .filter(|op| *op != "Revoke user sessions")
            .collect();
        let in_reset = listed(reset, "match:");
        for op in password_or_revoke {
            assert!(
                in_reset.iter().any(|o| o == op),
                "{op} is containment in window.rs but password-reset.yaml misses it"
            );
        }
    }
}
