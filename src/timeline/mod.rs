//! Timeline: the events of each user in time order, all sources side by side. A message appears
//! in the sender's timeline and in the recipient's (the phishing mail a victim received belongs
//! in the victim's story).

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::model::{Event, Source, Text};

/// Which events to keep.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Lower-cased users; empty keeps everyone.
    pub users: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Empty keeps every source.
    pub sources: Vec<Source>,
}

impl Filter {
    fn keeps_event(&self, e: &Event) -> bool {
        self.from.is_none_or(|f| e.time >= f)
            && self.to.is_none_or(|t| e.time <= t)
            && (self.sources.is_empty() || self.sources.contains(&e.source))
    }

    fn keeps_user(&self, user: &str) -> bool {
        self.users.is_empty() || self.users.iter().any(|u| u == user)
    }
}

/// One user's events, in time order (ties broken by file, record and part).
pub struct UserTimeline<'a> {
    pub user: Text,
    pub events: Vec<&'a Event>,
}

/// Builds the per-user timelines, users in name order. `events` must be sorted by (time, origin),
/// as ingest returns them; grouping runs in parallel and each group keeps that order.
pub fn build<'a>(events: &'a [Event], filter: &Filter) -> Vec<UserTimeline<'a>> {
    let groups: HashMap<Cow<'a, str>, Vec<usize>> = events
        .par_iter()
        .enumerate()
        .filter(|(_, e)| filter.keeps_event(e))
        .fold(
            HashMap::new,
            |mut acc: HashMap<Cow<'a, str>, Vec<usize>>, (i, e)| {
                for (user, _) in e.subjects() {
                    if filter.keeps_user(&user) {
                        acc.entry(user).or_default().push(i);
                    }
                }
                acc
            },
        )
        .reduce(HashMap::new, |mut a, b| {
            for (user, mut idx) in b {
                a.entry(user).or_default().append(&mut idx);
            }
            a
        });
    let mut timelines: Vec<UserTimeline<'a>> = groups
        .into_par_iter()
        .map(|(user, mut idx)| {
            idx.par_sort_unstable();
            idx.dedup();
            UserTimeline {
                user: Text::from(&*user),
                events: idx.into_iter().map(|i| &events[i]).collect(),
            }
        })
        .collect();
    timelines.sort_by(|a, b| a.user.cmp(&b.user));
    timelines
}
