//! Thresholds and sequences within a sliding per-user time window: "N items in M minutes",
//! "N failures then a success", "event A followed by B within T".
//!
//! Windows slide over the user's events (two pointers), they are not calendar days: 30 deletes
//! from 23:50 to 00:10 are one burst.

use std::collections::BTreeSet;

use chrono::Duration;
use rustc_hash::FxHashMap;

use super::field::{EventView, Field, Value};
use super::rule::{Count, Step};

/// How many items one event stands for: an aggregated audit record's `OperationCount`, else the
/// number of messages it names, else one.
pub fn items(v: &EventView<'_>) -> f64 {
    if let Some(n) = v
        .event
        .attr("operation_count")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|n| *n >= 1.0)
    {
        return n;
    }
    let messages = v
        .event
        .attr_all("message_id")
        .filter(|m| !m.is_empty())
        .count();
    messages.max(1) as f64
}

/// A run of events in which some window of the given length reached the threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Burst {
    /// Positions in the hit list, first to last.
    pub start: usize,
    pub end: usize,
    /// The largest count any one window reached.
    pub peak: f64,
    /// Everything counted over the whole burst (items, events or distinct values).
    pub total: f64,
}

/// Finds the bursts in `hits` (time order). Overlapping qualifying windows merge into one burst.
pub fn bursts(hits: &[&EventView<'_>], count: &Count, min: f64, window: Duration) -> Vec<Burst> {
    let mut out: Vec<Burst> = Vec::new();
    let mut push = |start: usize, end: usize, value: f64| match out.last_mut() {
        Some(b) if start <= b.end => {
            b.end = end;
            b.peak = b.peak.max(value);
        }
        _ => out.push(Burst {
            start,
            end,
            peak: value,
            total: 0.0,
        }),
    };
    let mut i = 0;
    match count {
        Count::Events | Count::Items => {
            // Each event's weight once: an aggregated record's items are found by a scan of
            // its attributes, which can list hundreds of message ids.
            let weights: Vec<f64> = if *count == Count::Items {
                hits.iter().map(|v| items(v)).collect()
            } else {
                vec![1.0; hits.len()]
            };
            let mut sum = 0.0;
            for j in 0..hits.len() {
                sum += weights[j];
                while hits[j].event.time - hits[i].event.time > window {
                    sum -= weights[i];
                    i += 1;
                }
                if sum >= min {
                    push(i, j, sum);
                }
            }
            for b in out.iter_mut() {
                b.total = weights[b.start..=b.end].iter().sum();
            }
        }
        Count::Distinct(field) => {
            let values: Vec<Option<String>> = hits.iter().map(|v| field.first(v)).collect();
            let mut seen: FxHashMap<&str, u32> = FxHashMap::default();
            for j in 0..hits.len() {
                if let Some(v) = &values[j] {
                    *seen.entry(v.as_str()).or_default() += 1;
                }
                while hits[j].event.time - hits[i].event.time > window {
                    if let Some(v) = &values[i] {
                        if let Some(n) = seen.get_mut(v.as_str()) {
                            *n -= 1;
                            if *n == 0 {
                                seen.remove(v.as_str());
                            }
                        }
                    }
                    i += 1;
                }
                if seen.len() as f64 >= min {
                    push(i, j, seen.len() as f64);
                }
            }
            for b in out.iter_mut() {
                let all: BTreeSet<&str> = values[b.start..=b.end]
                    .iter()
                    .flatten()
                    .map(|s| s.as_str())
                    .collect();
                b.total = all.len() as f64;
            }
        }
    }
    out
}

/// The largest window count reached on each UTC day with any hit (day as days since 1970).
pub fn daily_peaks(hits: &[&EventView<'_>], count: &Count, window: Duration) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    let mut start = 0;
    for k in 1..=hits.len() {
        let day = |i: usize| hits[i].event.time.timestamp().div_euclid(86_400);
        if k < hits.len() && day(k) == day(k - 1) {
            continue;
        }
        let peak = bursts(&hits[start..k], count, 0.0, window)
            .iter()
            .map(|b| b.peak)
            .fold(0.0, f64::max);
        out.push((day(start), peak));
        start = k;
    }
    out
}

/// An account's usual daily peak, from the days outside a burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usual {
    /// The median of the daily peaks.
    pub peak: f64,
    /// How many days it comes from.
    pub days: usize,
}

/// Days of history needed before an account's own usual peak counts.
pub const HISTORY_MIN_DAYS: usize = 3;

/// The median daily peak over the days not touched by the burst from `first` to `last`, or
/// `None` with fewer than [`HISTORY_MIN_DAYS`] such days (a new account has no usual day).
pub fn usual_peak(
    days: &[(i64, f64)],
    first: chrono::DateTime<chrono::Utc>,
    last: chrono::DateTime<chrono::Utc>,
) -> Option<Usual> {
    let (a, b) = (
        first.timestamp().div_euclid(86_400),
        last.timestamp().div_euclid(86_400),
    );
    let mut other: Vec<f64> = days
        .iter()
        .filter(|(d, _)| *d < a || *d > b)
        .map(|(_, p)| *p)
        .collect();
    if other.len() < HISTORY_MIN_DAYS {
        return None;
    }
    other.sort_by(f64::total_cmp);
    Some(Usual {
        peak: other[other.len() / 2],
        days: other.len(),
    })
}

/// One occurrence of a sequence: the earlier events and the later ones that completed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    /// Positions in the user's event list.
    pub first: BTreeSet<usize>,
    pub then: BTreeSet<usize>,
}

/// Both events have a value and the values differ.
fn values_differ(a: &EventView<'_>, b: &EventView<'_>, f: &Field) -> bool {
    match (f.first_value(a), f.first_value(b)) {
        (Some(x), Some(y)) => !same_value(x, y),
        _ => false,
    }
}

/// Equality of two values of one field, without allocating.
pub fn same_value(x: Value<'_>, y: Value<'_>) -> bool {
    match (x, y) {
        (Value::Text(a), Value::Text(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

/// Finds each `then` event preceded within `within` by at least `first.min` `first` events that
/// agree on every `same` field and differ from it on at least one `differ_any` field (both
/// values known). Occurrences sharing a `first` event merge.
pub fn sequences(
    views: &[EventView<'_>],
    first_hits: &[usize],
    then_hits: &[usize],
    first: &Step,
    within: Duration,
    same: &[Field],
    differ_any: &[Field],
) -> Vec<Occurrence> {
    // With `same` fields, only earlier events with the same values can pair: bucket them by
    // those values once, instead of comparing every pair in the window.
    let key = |v: &EventView<'_>| -> Option<Vec<String>> {
        same.iter()
            .map(|f| f.first_value(v).map(|x| x.to_text().to_ascii_lowercase()))
            .collect()
    };
    let mut buckets: FxHashMap<Vec<String>, Vec<usize>> = FxHashMap::default();
    if !same.is_empty() {
        for &i in first_hits {
            if let Some(k) = key(&views[i]) {
                buckets.entry(k).or_default().push(i);
            }
        }
    }
    let mut out: Vec<Occurrence> = Vec::new();
    for &j in then_hits {
        let pool: &[usize] = if same.is_empty() {
            first_hits
        } else {
            match key(&views[j]).and_then(|k| buckets.get(&k)) {
                Some(b) => b,
                None => continue,
            }
        };
        let tj = views[j].event.time;
        // The pool is in time order: find those in [tj - within, tj].
        let lo = pool.partition_point(|&i| views[i].event.time < tj - within);
        let candidates: Vec<usize> = pool[lo..]
            .iter()
            .copied()
            .take_while(|&i| i < j)
            .filter(|&i| {
                differ_any.is_empty()
                    || differ_any
                        .iter()
                        .any(|f| values_differ(&views[i], &views[j], f))
            })
            .collect();
        if (candidates.len() as u64) < first.min {
            continue;
        }
        match out.last_mut() {
            Some(o) if candidates.iter().any(|c| o.first.contains(c)) => {
                o.first.extend(candidates);
                o.then.insert(j);
            }
            _ => out.push(Occurrence {
                first: candidates.into_iter().collect(),
                then: BTreeSet::from([j]),
            }),
        }
    }
    out
}

/// Occurrences of every step within `within`: each is the positions (in time order) of the
/// events that make it up. Unordered: the first window, in time order, that holds an event of
/// every step; then the search goes on after it, so occurrences do not overlap. Ordered: a
/// step-1 event, then the first later step-2 event, and so on, all within `within` of the first.
/// `steps` hold positions into `views` (time order), each list ascending.
pub fn together(
    views: &[EventView<'_>],
    steps: &[Vec<usize>],
    within: Duration,
    ordered: bool,
) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if steps.is_empty() || steps.iter().any(|s| s.is_empty()) {
        return out;
    }
    let time = |p: usize| views[p].event.time;
    if ordered {
        let mut after: Option<usize> = None;
        for &a in &steps[0] {
            if after.is_some_and(|x| a <= x) {
                continue;
            }
            let mut chain = vec![a];
            let mut last = a;
            for s in &steps[1..] {
                let i = s.partition_point(|&p| p <= last);
                match s.get(i) {
                    Some(&p) if time(p) - time(a) <= within => {
                        chain.push(p);
                        last = p;
                    }
                    _ => break,
                }
            }
            if chain.len() == steps.len() {
                after = Some(last);
                out.push(chain);
            }
        }
        return out;
    }
    // Unordered: a sliding window over every (position, step) in time order.
    let mut marks: Vec<(usize, usize)> = steps
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.iter().map(move |&p| (p, k)))
        .collect();
    marks.sort_unstable();
    let mut counts = vec![0usize; steps.len()];
    let mut covered = 0;
    let mut start = 0;
    for end in 0..marks.len() {
        let (p, k) = marks[end];
        if counts[k] == 0 {
            covered += 1;
        }
        counts[k] += 1;
        while time(p) - time(marks[start].0) > within {
            let (_, ks) = marks[start];
            counts[ks] -= 1;
            if counts[ks] == 0 {
                covered -= 1;
            }
            start += 1;
        }
        if covered == steps.len() {
            let mut pos: Vec<usize> = marks[start..=end].iter().map(|m| m.0).collect();
            pos.dedup();
            out.push(pos);
            counts.iter_mut().for_each(|c| *c = 0);
            covered = 0;
            start = end + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::field::Role;
    use crate::model::{Event, Source};
    use chrono::TimeZone;

    /// The events as the user's own (no enrichment).
    fn actor_views(events: &[Event]) -> Vec<EventView<'_>> {
        events
            .iter()
            .map(|e| EventView {
                event: e,
                ip: None,
                role: Role::Actor,
                everyday: false,
            })
            .collect()
    }

    fn ev(min: i64, count: Option<&str>) -> Event {
        let t = chrono::Utc
            .with_ymd_and_hms(2024, 5, 13, 0, 0, 0)
            .single()
            .expect("valid time")
            + Duration::minutes(min);
        let mut e = Event::new(t, Source::Audit, "u".into(), "HardDelete".into());
        if let Some(c) = count {
            e.attrs.push(("operation_count".into(), c.into()));
        }
        e
    }

    #[test]
    fn together_finds_every_step_within_the_window() {
        let events: Vec<Event> = [0, 3, 20, 22, 25, 60]
            .iter()
            .map(|&m| ev(m, None))
            .collect();
        let views = actor_views(&events);
        // Step A at 0, 22 and 60 min; step B at 3 and 20 min.
        let steps = vec![vec![0, 3, 5], vec![1, 2]];
        let w = Duration::minutes(5);
        // Unordered: A0+B3, then B20+A22; A60 has no B near it.
        assert_eq!(
            together(&views, &steps, w, false),
            vec![vec![0, 1], vec![2, 3]]
        );
        // Ordered (A then B): only A0 -> B3; A22 has no later B.
        assert_eq!(together(&views, &steps, w, true), vec![vec![0, 1]]);
        // B then A: B3 is too far from A22 (19 min), B20 -> A22 is within.
        let rev = vec![steps[1].clone(), steps[0].clone()];
        assert_eq!(together(&views, &rev, w, true), vec![vec![2, 3]]);
        // A window too small for any pair.
        assert!(together(&views, &steps, Duration::minutes(1), false).is_empty());
        assert!(together(&views, &[vec![0], vec![]], w, false).is_empty());
    }

    #[test]
    fn items_windows_slide_and_merge() {
        let events = [
            ev(0, Some("5")),
            ev(5, Some("5")),
            ev(50, Some("1")),
            ev(200, Some("3")),
            ev(205, Some("8")),
        ];
        let views = actor_views(&events);
        let hits: Vec<&EventView> = views.iter().collect();
        let b = bursts(&hits, &Count::Items, 10.0, Duration::minutes(10));
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!((b[0].start, b[0].end, b[0].peak), (0, 1, 10.0));
        assert_eq!((b[1].start, b[1].end, b[1].peak), (3, 4, 11.0));
        // Counted as records, nothing reaches 10.
        assert!(bursts(&hits, &Count::Events, 10.0, Duration::minutes(10)).is_empty());
        // One hour: the 50-minute event joins the first burst.
        let b = bursts(&hits, &Count::Items, 10.0, Duration::hours(1));
        assert_eq!((b[0].start, b[0].end, b[0].total), (0, 2, 11.0));
    }

    #[test]
    fn sequences_pair_same_session_events_that_differ() {
        let mk = |min: i64, session: &str, country: &str| {
            let mut e = ev(min, None);
            e.session_id = Some(session.into());
            e.country = Some(country.into());
            e
        };
        // s1 seen in NL, then used from DE twice; s2 only ever in US; s1 from NL again later.
        let events = [
            mk(0, "s1", "NL"),
            mk(5, "s2", "US"),
            mk(60, "s1", "DE"),
            mk(70, "S1", "DE"),
            mk(80, "s2", "US"),
            mk(90, "s1", "NL"),
        ];
        let views = actor_views(&events);
        let all: Vec<usize> = (0..views.len()).collect();
        let step = |min| Step {
            when: crate::detect::matcher::Cond::True,
            prefilter: Default::default(),
            min,
            roles: vec![Role::Actor],
        };
        let same = [Field::SessionId];
        let differ = [Field::Country];
        let occ = sequences(
            &views,
            &all,
            &all,
            &step(1),
            Duration::hours(2),
            &same,
            &differ,
        );
        // NL then DE (the two DE uses share their first event: one occurrence, case ignored in
        // the session id); then back to NL from DE, a second occurrence; s2 never pairs.
        assert_eq!(occ.len(), 2, "{occ:?}");
        assert_eq!(
            (&occ[0].first, &occ[0].then),
            (&BTreeSet::from([0]), &BTreeSet::from([2, 3]))
        );
        assert_eq!(
            (&occ[1].first, &occ[1].then),
            (&BTreeSet::from([2, 3]), &BTreeSet::from([5]))
        );
        // Outside the window nothing pairs; a minimum of three earlier events is not reached.
        assert!(sequences(
            &views,
            &all,
            &all,
            &step(1),
            Duration::minutes(15),
            &same,
            &differ
        )
        .is_empty());
        assert!(sequences(
            &views,
            &all,
            &all,
            &step(3),
            Duration::hours(2),
            &same,
            &differ
        )
        .is_empty());
    }

    #[test]
    fn message_ids_count_as_items() {
        let mut e = ev(0, None);
        e.attrs.push(("message_id".into(), "<a>".into()));
        e.attrs.push(("message_id".into(), "<b>".into()));
        let v = EventView {
            event: &e,
            ip: None,
            role: Role::Actor,
            everyday: false,
        };
        assert_eq!(items(&v), 2.0);
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_usual_peak_is_the_median_of_other_days_and_needs_three_of_them() {
        let day = |d: i64| {
            Utc.timestamp_opt(d * 86_400 + 3600, 0)
                .single()
                .expect("time")
        };
        let days = vec![(0, 10.0), (1, 300.0), (2, 12.0), (3, 14.0), (4, 500.0)];
        // The burst on day 4 is compared with days 0-3: median of 10, 12, 14, 300 is 14.
        let u = usual_peak(&days, day(4), day(4)).expect("four other days");
        assert_eq!((u.peak, u.days), (14.0, 4));
        // A burst spanning days 1 to 4 leaves one day: no history.
        assert!(usual_peak(&days, day(1), day(4)).is_none());
        assert!(usual_peak(&[], day(0), day(0)).is_none());
    }
}
