//! The compromise window: first to last attacker activity, with the containment actions taken
//! on the account (password reset, session revocation, disabling, MFA reset) and any attacker
//! activity after them called out: a reset that did not revoke sessions is a common gap.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::attribution::Footprint;
use super::Evidence;
use crate::model::{Event, Outcome, Source};

/// Entra audit operations that contain a compromised account, and what each does.
pub const CONTAINMENT_OPERATIONS: &[(&str, &str)] = &[
    ("Reset user password.", "password reset"),
    ("Change user password.", "password changed"),
    ("Reset password (by admin)", "password reset"),
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompromiseWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub containment: Vec<Containment>,
    /// Attacker events after the first containment action.
    pub after_containment: Vec<Evidence>,
}

/// Containment actions on `user`: by an admin (the target is the user) or by the user.
pub fn containment(events: &[Event], files: &[String], user: &str) -> Vec<Containment> {
    events
        .iter()
        .filter(|e| e.source == Source::Audit && e.outcome != Outcome::Failure)
        .filter_map(|e| {
            let (_, action) = CONTAINMENT_OPERATIONS
                .iter()
                .find(|(op, _)| e.operation.eq_ignore_ascii_case(op))?;
            let target = e.attr("target").or(e.object.as_deref()).unwrap_or(&e.user);
            target.eq_ignore_ascii_case(user).then(|| Containment {
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
    let containment: Vec<Containment> = containment(events, files, user)
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
