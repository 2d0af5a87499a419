//! The tenant's own mail domains, inferred from who signs in and acts in the audit log.

use rayon::prelude::*;
use rustc_hash::FxHashSet;

use crate::model::{Event, Source};

/// The tenant's mail domains: the domains of the accounts that signed in or acted in the audit
/// log (message-trace senders are anyone on the internet, so they do not count). Only account
/// UPNs count ([`crate::model::ActorKind`]): never `app@sharepoint` or a server's host name.
pub fn tenant_domains(events: &[Event]) -> FxHashSet<String> {
    domains_of(events, |_| true)
}

/// [`tenant_domains`] of the events `counts` keeps (a group's own, docs/stages.md).
pub fn domains_of(events: &[Event], counts: impl Fn(&Event) -> bool + Sync) -> FxHashSet<String> {
    // Users are interned, so consecutive events of one user share the text's address: skip
    // those without hashing, and hash each distinct user once per thread.
    let users: FxHashSet<&str> = events
        .par_iter()
        .filter(|e| e.source != Source::Messagetrace && counts(e))
        .fold(
            || (FxHashSet::default(), 0usize),
            |(mut set, last): (FxHashSet<&str>, usize), e| {
                let p = e.user.as_ptr() as usize;
                if p != last {
                    set.insert(&*e.user);
                }
                (set, p)
            },
        )
        .map(|(set, _)| set)
        .reduce(FxHashSet::default, |mut a, b| {
            a.extend(b);
            a
        });
    let mut out = FxHashSet::default();
    for u in users {
        if u.contains("#ext#") || crate::model::ActorKind::of(u) != crate::model::ActorKind::Account
        {
            continue;
        }
        if let Some((_, d)) = u.rsplit_once('@') {
            out.insert(d.trim().to_ascii_lowercase());
        }
    }
    out
}
