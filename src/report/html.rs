//! `report.html`: the case report an investigator hands over. One self-contained file (inline
//! CSS, JS and SVG; nothing fetched) that opens from a USB stick: summary, per compromised user
//! a timeline chart with the attacker's events set apart, sign-in countries, findings with their
//! evidence rows, blast radius, notification lists, and the chain of custody (inputs with row
//! accounting and SHA-256, GeoIP databases, tool version and command line).
//!
//! Summary and charts are plain HTML and SVG; the tables are data ([`super::grid`]) the page's
//! small script renders, sorts, filters and pages. Every evidence string (subjects and rule
//! names are the attacker's choice) is escaped for HTML, and the data block for `<script>`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, Duration, Utc};

use super::case::Case;
use super::grid::{page_json, Grid, Kind, Strings};
use crate::detect::Severity;
use crate::impact::{CompromiseWindow, UserImpact, Verdict};
use crate::model::{Event, Outcome, Source};
use crate::normalize::time;

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

/// Timeline rows per page in the browser.
const TIMELINE_PAGE: usize = 100;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the attacker's events are, per event index: how sure, and why.
type Attacker<'a> = HashMap<usize, (&'static str, &'a str)>;

fn attacker_of(u: &UserImpact) -> Attacker<'_> {
    u.footprint
        .events
        .iter()
        .map(|(i, c, why)| {
            let conf = match c {
                crate::impact::Confidence::High => "high",
                crate::impact::Confidence::Medium => "medium",
            };
            (*i, (conf, why.as_str()))
        })
        .collect()
}

/// Indexes of the events in each user's timeline (as actor, as a message's recipient or as a
/// change's target; names compared in lower case), in time order with the evidence position
/// breaking ties: one pass over the events for every user asked.
pub fn timelines_of(events: &[Event], users: &[&str]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = users
        .iter()
        .map(|u| (u.to_lowercase(), Vec::new()))
        .collect();
    for (i, e) in events.iter().enumerate() {
        for (u, _) in e.subjects() {
            if let Some(idx) = out.get_mut(u.as_ref()) {
                if idx.last() != Some(&i) {
                    idx.push(i);
                }
            }
        }
    }
    for idx in out.values_mut() {
        idx.sort_by(|a, b| {
            let (x, y) = (&events[*a], &events[*b]);
            x.time.cmp(&y.time).then(x.origin.cmp(&y.origin))
        });
    }
    out
}

/// [`timelines_of`] one user.
pub fn timeline_of(events: &[Event], user: &str) -> Vec<usize> {
    timelines_of(events, &[user])
        .into_values()
        .next()
        .unwrap_or_default()
}

/// The country of an event's address: the enrichment's answer (export first), else the export.
fn country_of<'e>(case: &'e Case, e: &'e Event) -> &'e str {
    case.ips
        .for_event(e)
        .and_then(|i| i.country.as_deref())
        .or(e.country.as_deref())
        .unwrap_or("")
}

fn file_of<'c>(case: &'c Case, e: &Event) -> &'c str {
    case.ingested
        .files
        .get(e.origin.file as usize)
        .map(|f| f.path.as_str())
        .unwrap_or("")
}

fn hours(from: &DateTime<Utc>, to: &DateTime<Utc>) -> String {
    let h = (*to - *from).num_minutes() as f64 / 60.0;
    if h >= 48.0 {
        format!("{:.1} days", h / 24.0)
    } else {
        format!("{h:.1} h")
    }
}

/// The page being built: HTML sections and the grids their tables render from.
struct Page {
    html: String,
    strings: Strings,
    grids: Vec<Grid>,
    origin: DateTime<Utc>,
    /// The compromised accounts' timelines ([`timelines_of`]), taken once.
    timelines: HashMap<String, Vec<usize>>,
}

impl Page {
    /// Places a grid's table here (with its title) and keeps its data for the script.
    fn grid(&mut self, title: &str, grid: Grid) {
        let _ = write!(
            self.html,
            "<h4>{}</h4><div class=\"grid\" data-grid=\"{}\" data-rows=\"{}\"></div>\n",
            esc(title),
            esc(&grid.id),
            grid.rows()
        );
        self.grids.push(grid);
    }

    fn grid_or_none(&mut self, title: &str, grid: Grid, none: &str) {
        if grid.is_empty() {
            let _ = write!(
                self.html,
                "<h4>{}</h4><p class=\"none\">{}</p>\n",
                esc(title),
                esc(none)
            );
        } else {
            self.grid(title, grid);
        }
    }
}

/// Writes the report for one case.
pub fn write(out: &mut dyn Write, case: &Case) -> io::Result<()> {
    out.write_all(render(case).as_bytes())?;
    out.flush()
}

/// The whole page as text.
pub fn render(case: &Case) -> String {
    let ing = case.ingested;
    let origin = ing.span.first.unwrap_or_default();
    let mut page = Page {
        html: String::with_capacity(1 << 20),
        strings: Strings::default(),
        grids: Vec::new(),
        origin,
        timelines: HashMap::new(),
    };
    let compromised: Vec<&UserImpact> = case
        .impact
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Compromised)
        .collect();
    let names: Vec<&str> = compromised.iter().map(|u| u.user.as_str()).collect();
    page.timelines = timelines_of(&ing.events, &names);

    summary(&mut page, case, &compromised);
    for (n, u) in compromised.iter().enumerate() {
        user_section(&mut page, case, u, n);
    }
    findings(&mut page, case);
    custody(&mut page, case);

    let mut nav = String::from("<a href=\"#summary\">Summary</a>");
    for (n, u) in compromised.iter().enumerate() {
        let _ = write!(nav, "<a href=\"#user-{n}\">{}</a>", esc(&u.user));
    }
    nav.push_str(
        "<a href=\"#findings\">Findings</a><a href=\"#custody\">Evidence &amp; custody</a>",
    );

    let grids: Vec<&Grid> = page.grids.iter().collect();
    let data = page_json(&page.strings, &grids, origin);
    let mut html =
        String::with_capacity(page.html.len() + data.len() + CSS.len() + JS.len() + 4096);
    let title = match compromised.first() {
        Some(u) => format!("breachline case report: {}", u.user),
        None => "breachline case report".to_string(),
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"breachline {version}\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header><div class=\"brand\">breachline <span>case report</span></div><nav>{nav}</nav></header>\n\
         <noscript><p class=\"warn\">Tables need JavaScript; the summary and charts do not. The same data is in the case folder's CSV and JSON files.</p></noscript>\n\
         <main>\n{body}</main>\n\
         <script type=\"application/json\" id=\"case-data\">{data}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        version = env!("CARGO_PKG_VERSION"),
        title = esc(&title),
        body = page.html,
    );
    html
}

fn summary(page: &mut Page, case: &Case, compromised: &[&UserImpact]) {
    let ing = case.ingested;
    let impact = case.impact;
    let suspicious = impact
        .users
        .iter()
        .filter(|u| u.verdict == Verdict::Suspicious)
        .count();
    let mut by_severity = [0usize; 5];
    for f in case.findings {
        by_severity[f.severity as usize] += 1;
    }
    let to_notify: usize = compromised.iter().map(|u| u.recipients.to_notify()).sum();
    let external: usize = compromised.iter().map(|u| u.recipients.external()).sum();
    let span = match (ing.span.first, ing.span.last) {
        (Some(a), Some(b)) => format!("{} to {}", time::format(&a), time::format(&b)),
        _ => "no events".to_string(),
    };
    let h = &mut page.html;
    let _ = write!(
        h,
        "<section id=\"summary\"><h1>Case summary</h1>\n<p class=\"lead\">Tenant {domains}. Evidence: {files} files, {events} events, {users} user ids, {span} (UTC).</p>\n<div class=\"cards\">\
         <div class=\"card {c_cls}\"><b>{c}</b>compromised</div>\
         <div class=\"card {s_cls}\"><b>{suspicious}</b>suspicious</div>\
         <div class=\"card\"><b>{clean}</b>clean</div>\
         <div class=\"card\"><b>{nf}</b>findings<small>{crit} critical, {high} high, {med} medium</small></div>\
         <div class=\"card\"><b>{to_notify}</b>recipients to notify<small>{external} external</small></div></div>\n",
        domains = esc(&impact.tenant_domains.join(", ")),
        files = ing.evidence_read().files,
        events = ing.span.events,
        users = ing.coverage.users.len(),
        c = compromised.len(),
        c_cls = if compromised.is_empty() { "" } else { "bad" },
        s_cls = if suspicious == 0 { "" } else { "warn" },
        clean = ing.coverage.users.len().saturating_sub(compromised.len() + suspicious),
        nf = case.findings.len(),
        crit = by_severity[Severity::Critical as usize],
        high = by_severity[Severity::High as usize],
        med = by_severity[Severity::Medium as usize],
    );
    for u in compromised {
        let ips: Vec<String> = u
            .footprint
            .ips
            .iter()
            .map(|k| format!("<code>{}</code>", esc(&k.key)))
            .collect();
        let _ = write!(
            h,
            "<div class=\"verdict\"><h3>{} <span class=\"tag bad\">compromised</span></h3><ul>",
            esc(&u.user)
        );
        if let Some(w) = &u.window {
            let _ = write!(
                h,
                "<li>Attacker active from <b>{}</b> to <b>{}</b> ({}).</li>",
                esc(&time::format(&w.start)),
                esc(&time::format(&w.end)),
                hours(&w.start, &w.end)
            );
            match w.containment.first() {
                Some(c) => {
                    let _ = write!(
                        h,
                        "<li>First containment: {} at {} by {}; <b>{}</b> attacker events after it.</li>",
                        esc(&c.action),
                        esc(&time::format(&c.time)),
                        esc(&c.actor),
                        w.after_containment.len()
                    );
                }
                None => h.push_str("<li>No containment action (password reset, session revocation) is in the evidence.</li>"),
            }
        }
        let _ = write!(
            h,
            "<li>Attacker IPs: {}; {} attacker events attributed.</li>",
            if ips.is_empty() {
                "none".to_string()
            } else {
                ips.join(", ")
            },
            u.footprint.events.len()
        );
        let b = &u.blast_radius;
        let read: u64 = b.mail_read.iter().map(|f| f.bind_items).sum();
        let _ = write!(
            h,
            "<li>Blast radius: {} mail items read in {} folders ({} synchronised whole), {} messages sent, {} deleted or moved, {} rule / forwarding changes, {} identity changes.</li>",
            read,
            b.mail_read.len(),
            b.synced_folders.len(),
            b.mail_sent.len(),
            b.mail_deleted_or_moved.len(),
            b.rules_and_forwarding.len(),
            b.identity_changes.len()
        );
        if !b.forwarding_targets.is_empty() {
            let t: Vec<String> = b
                .forwarding_targets
                .iter()
                .map(|f| format!("<code>{}</code>", esc(f)))
                .collect();
            let _ = write!(h, "<li>Mail forwarded to {}.</li>", t.join(", "));
        }
        let own = u.recipients.user_only();
        let _ = write!(
            h,
            "<li>{} recipients to notify ({} external, {} internal){}.</li></ul></div>\n",
            u.recipients.to_notify(),
            u.recipients.external(),
            u.recipients.internal(),
            if own > 0 {
                format!("; {own} more got only mail the user sent themselves (listed apart)")
            } else {
                String::new()
            }
        );
    }
    for (n, u) in compromised.iter().enumerate() {
        let Some(w) = &u.window else { continue };
        let events = &ing.events;
        let idx = page.timelines.get(&u.user).map_or(&[][..], Vec::as_slice);
        let pad = ((w.end - w.start) / 10).max(Duration::hours(2));
        let _ = write!(
            page.html,
            "<h4>{}: the compromise window</h4>\n{}{LEGEND}",
            esc(&u.user),
            chart(
                events,
                idx,
                &attacker_of(u),
                w.start - pad,
                w.end + pad,
                Some(w),
                &format!("chart-{n}-window")
            )
        );
    }
    let mut g = Grid::new(
        "verdicts",
        &[
            ("user", Kind::Text),
            ("verdict", Kind::Text),
            ("score", Kind::Number),
            ("rules fired", Kind::Number),
            ("window start", Kind::Time),
            ("window end", Kind::Time),
            ("attacker IPs", Kind::Text),
            ("to notify", Kind::Number),
        ],
    );
    let users = impact.flagged();
    for u in users {
        let c = u.verdict == Verdict::Compromised;
        let ips: Vec<&str> = u
            .footprint
            .ips
            .iter()
            .filter(|_| c)
            .map(|k| k.key.as_str())
            .collect();
        let w = u.window.as_ref().filter(|_| c);
        g.row(&mut page.strings, page.origin)
            .text(&u.user)
            .text(u.verdict.as_str())
            .num(u64::from(u.score))
            .num(u.rules.len() as u64)
            .opt_time(w.map(|w| &w.start))
            .opt_time(w.map(|w| &w.end))
            .text(&ips.join(", "))
            .num(if c {
                u.recipients.to_notify() as u64
            } else {
                0
            });
    }
    page.grid_or_none(
        "Accounts with indicators (all others are clean)",
        g,
        "No account is compromised or suspicious.",
    );
    page.html.push_str("</section>\n");
}

fn user_section(page: &mut Page, case: &Case, u: &UserImpact, n: usize) {
    let events = &case.ingested.events;
    let idx = page.timelines.remove(&u.user).unwrap_or_default();
    let attacker = attacker_of(u);
    let _ = write!(
        page.html,
        "<section id=\"user-{n}\"><h2>{} <span class=\"tag bad\">compromised</span></h2>\n",
        esc(&u.user)
    );
    if let (Some(first), Some(last)) = (idx.first(), idx.last()) {
        let (from, to) = (events[*first].time, events[*last].time);
        page.html
            .push_str("<h4>Timeline: the whole evidence period</h4>\n");
        page.html.push_str(&chart(
            events,
            &idx,
            &attacker,
            from,
            to,
            u.window.as_ref(),
            &format!("chart-{n}-all"),
        ));
        page.html.push_str(LEGEND);
    }
    attacker_keys(page, case, u, n);
    countries(page, case, &idx, &attacker, n);
    blast(page, u, n);
    notification(page, u, n);

    let mut g = Grid::new(
        format!("timeline-{n}"),
        &[
            ("time (UTC)", Kind::Time),
            ("attacker", Kind::Text),
            ("source", Kind::Text),
            ("user", Kind::Text),
            ("operation", Kind::Text),
            ("outcome", Kind::Text),
            ("ip", Kind::Text),
            ("country", Kind::Text),
            ("app / client", Kind::Text),
            ("object", Kind::Text),
            ("file", Kind::Text),
            ("line", Kind::Number),
        ],
    )
    .page(TIMELINE_PAGE)
    .mark("attacker")
    .delta("time (UTC)");
    for i in &idx {
        let e = &events[*i];
        let who = attacker.get(i).map(|(c, _)| *c).unwrap_or("");
        let ip = e.ip.map(|ip| ip.to_string());
        let app = match (e.application.as_deref(), e.client_app.as_deref()) {
            (Some(a), Some(c)) => format!("{a} / {c}"),
            (a, c) => a.or(c).unwrap_or("").to_string(),
        };
        let object = e
            .object
            .as_deref()
            .or(e.attr("subject"))
            .or(e.attr("recipient"));
        g.row(&mut page.strings, page.origin)
            .time(&e.time)
            .text(who)
            .text(e.source.as_str())
            .text(&e.user)
            .text(&e.operation)
            .text(e.outcome.as_str())
            .opt(ip.as_deref())
            .text(country_of(case, e))
            .text(&app)
            .opt(object)
            .text(file_of(case, e))
            .num(e.origin.line);
    }
    page.grid_or_none(
        &format!("Timeline of {} (attacker rows highlighted)", u.user),
        g,
        "No events.",
    );
    page.html.push_str("</section>\n");
}

fn lane(s: Source) -> usize {
    match s {
        Source::Signin => 0,
        Source::Noninteractive => 1,
        Source::Audit | Source::Directory | Source::Risk => 2,
        Source::Messagetrace => 3,
    }
}

const LEGEND: &str = "<p class=\"legend\"><span class=\"sw own\"></span>the user's own activity <span class=\"sw atk\"></span>attributed to the attacker <span class=\"sw win\"></span>compromise window <span class=\"sw con\"></span>containment action (hover a mark for times and counts)</p>\n";

const LANES: [&str; 4] = [
    "sign-in",
    "token / non-interactive",
    "mailbox, directory & admin actions",
    "mail",
];

/// An SVG chart of a user's events between `from` and `to`: one lane per source, one mark per
/// pixel column (with its count), the attacker's marks in their own colour and class.
fn chart(
    events: &[Event],
    idx: &[usize],
    attacker: &Attacker,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: Option<&CompromiseWindow>,
    id: &str,
) -> String {
    const W: f64 = 1100.0;
    const LEFT: f64 = 170.0;
    const RIGHT: f64 = 10.0;
    const LANE_H: f64 = 30.0;
    const TOP: f64 = 8.0;
    let plot = W - LEFT - RIGHT;
    let height = TOP + LANE_H * 4.0 + 28.0;
    let span_ms = ((to - from).num_milliseconds().max(60_000)) as f64;
    let x_of = |t: &DateTime<Utc>| {
        LEFT + ((*t - from).num_milliseconds() as f64 / span_ms * plot).clamp(0.0, plot)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {W} {height}\" role=\"img\" aria-label=\"events from {} to {}\">",
        time::format(&from),
        time::format(&to)
    );
    for (l, name) in LANES.iter().enumerate() {
        let y = TOP + LANE_H * l as f64;
        let _ = write!(
            svg,
            "<rect class=\"lane\" x=\"{LEFT}\" y=\"{y}\" width=\"{plot}\" height=\"{LANE_H}\"/><text class=\"lbl\" x=\"{}\" y=\"{}\">{name}</text>",
            LEFT - 8.0,
            y + LANE_H / 2.0 + 4.0
        );
    }
    if let Some(w) = window {
        let (a, b) = (x_of(&w.start), x_of(&w.end));
        let _ = write!(
            svg,
            "<rect class=\"win\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{}\"><title>compromise window {} to {}</title></rect>",
            (b - a).max(1.5),
            LANE_H * 4.0,
            time::format(&w.start),
            time::format(&w.end)
        );
    }
    // Marks: (lane, pixel column, attacker?) -> count, first time.
    let mut marks: BTreeMap<(usize, i64, bool), (u64, DateTime<Utc>, DateTime<Utc>)> =
        BTreeMap::new();
    for i in idx {
        let e = &events[*i];
        if e.time < from || e.time > to {
            continue;
        }
        let px = ((x_of(&e.time) - LEFT) / 2.0).floor() as i64;
        let entry = marks
            .entry((lane(e.source), px, attacker.contains_key(i)))
            .or_insert((0, e.time, e.time));
        entry.0 += 1;
        entry.2 = e.time;
    }
    let mut attacker_total = 0u64;
    for own_pass in [true, false] {
        for ((l, px, atk), (count, first, last)) in &marks {
            if *atk == own_pass {
                continue;
            }
            let x = LEFT + *px as f64 * 2.0;
            let y = TOP + LANE_H * *l as f64 + if *atk { 3.0 } else { 7.0 };
            let h = if *atk { LANE_H - 6.0 } else { LANE_H - 14.0 };
            let class = if *atk { "ev atk" } else { "ev own" };
            if *atk {
                attacker_total += count;
            }
            let when = if first == last {
                time::format(first)
            } else {
                format!("{} to {}", time::format(first), time::format(last))
            };
            let _ = write!(
                svg,
                "<rect class=\"{class}\" data-n=\"{count}\" x=\"{x:.1}\" y=\"{y}\" width=\"2.4\" height=\"{h}\"><title>{count} {} event{}, {when}</title></rect>",
                if *atk { "attacker" } else { "user" },
                if *count == 1 { "" } else { "s" }
            );
        }
    }
    if let Some(w) = window {
        for c in &w.containment {
            let x = x_of(&c.time);
            let _ = write!(
                svg,
                "<line class=\"con\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\"><title>{} ({}) by {} at {}</title></line>",
                TOP - 4.0,
                TOP + LANE_H * 4.0 + 2.0,
                esc(&c.action),
                esc(&c.operation),
                esc(&c.actor),
                time::format(&c.time)
            );
        }
    }
    // Axis: a round step giving at most eight labels.
    let steps_h = [
        1i64, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720, 1440, 2880, 8760,
    ];
    let span_h = span_ms / 3_600_000.0;
    let step = steps_h
        .iter()
        .copied()
        .find(|s| span_h / (*s as f64) <= 8.0)
        .unwrap_or(8760);
    let step_ms = step * 3_600_000;
    let mut t = from.timestamp_millis().div_euclid(step_ms) * step_ms;
    let axis_y = TOP + LANE_H * 4.0;
    while let Some(tick) = DateTime::<Utc>::from_timestamp_millis(t) {
        if tick > to {
            break;
        }
        if tick >= from {
            let x = x_of(&tick);
            let label = if step >= 24 {
                tick.format("%Y-%m-%d").to_string()
            } else {
                tick.format("%m-%d %H:%M").to_string()
            };
            let _ = write!(
                svg,
                "<line class=\"tick\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"/>",
                axis_y + 4.0
            );
            // A label hanging over either end would be cut off or hit the "UTC" caption.
            if x > LEFT + 36.0 && x < W - RIGHT - 36.0 {
                let _ = write!(
                    svg,
                    "<text class=\"ax\" x=\"{x:.1}\" y=\"{}\">{label}</text>",
                    axis_y + 18.0
                );
            }
        }
        t += step_ms;
    }
    let _ = write!(
        svg,
        "<text class=\"ax utc\" x=\"{}\" y=\"{}\">UTC</text>",
        LEFT - 8.0,
        axis_y + 18.0
    );
    svg.push_str("</svg>\n");
    svg.replacen(
        "<svg class=\"chart\"",
        &format!("<svg class=\"chart\" data-attacker-events=\"{attacker_total}\""),
        1,
    )
}

fn attacker_keys(page: &mut Page, case: &Case, u: &UserImpact, n: usize) {
    let mut g = Grid::new(
        format!("keys-{n}"),
        &[
            ("kind", Kind::Text),
            ("key", Kind::Text),
            ("confidence", Kind::Text),
            ("why", Kind::Text),
            ("events", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
            ("country", Kind::Text),
            ("ASN", Kind::Text),
            ("owner", Kind::Text),
            ("network", Kind::Text),
        ],
    );
    let kinds = [
        ("ip", &u.footprint.ips),
        ("session", &u.footprint.sessions),
        ("token", &u.footprint.tokens),
    ];
    for (kind, keys) in kinds {
        for k in keys.iter() {
            let info = k.key.parse().ok().and_then(|ip| case.ips.get(ip));
            let asn = info.and_then(|i| i.asn).map(|a| format!("AS{a}"));
            let conf = match k.confidence {
                crate::impact::Confidence::High => "high",
                crate::impact::Confidence::Medium => "medium",
            };
            g.row(&mut page.strings, page.origin)
                .text(kind)
                .text(&k.key)
                .text(conf)
                .text(&k.why)
                .num(k.events)
                .time(&k.first)
                .time(&k.last)
                .opt(info.and_then(|i| i.country.as_deref()))
                .opt(asn.as_deref())
                .opt(info.and_then(|i| i.as_org.as_deref()))
                .text(info.map(|i| i.network.as_str()).unwrap_or(""));
        }
    }
    page.grid_or_none("Attacker IPs, sessions and tokens", g, "None attributed.");
    if !u.footprint.user_agents.is_empty() {
        let agents: Vec<String> = u
            .footprint
            .user_agents
            .iter()
            .map(|a| format!("<li><code>{}</code></li>", esc(a)))
            .collect();
        let _ = write!(
            page.html,
            "<h4>Attacker user agents</h4><ul>{}</ul>\n",
            agents.join("")
        );
    }
}

fn countries(page: &mut Page, case: &Case, idx: &[usize], attacker: &Attacker, n: usize) {
    #[derive(Default)]
    struct Place {
        signins: u64,
        failed: u64,
        attacker: u64,
        ips: std::collections::BTreeSet<std::net::IpAddr>,
        first: Option<DateTime<Utc>>,
        last: Option<DateTime<Utc>>,
    }
    let events = &case.ingested.events;
    let mut by_country: BTreeMap<&str, Place> = BTreeMap::new();
    for i in idx {
        let e = &events[*i];
        if !matches!(e.source, Source::Signin | Source::Noninteractive) {
            continue;
        }
        let c = country_of(case, e);
        let p = by_country
            .entry(if c.is_empty() { "unknown" } else { c })
            .or_default();
        p.signins += 1;
        p.failed += u64::from(e.outcome == Outcome::Failure);
        p.attacker += u64::from(attacker.contains_key(i));
        p.ips.extend(e.ip);
        p.first = Some(p.first.map_or(e.time, |f| f.min(e.time)));
        p.last = Some(p.last.map_or(e.time, |l| l.max(e.time)));
    }
    let mut g = Grid::new(
        format!("countries-{n}"),
        &[
            ("country", Kind::Text),
            ("sign-ins", Kind::Number),
            ("failed", Kind::Number),
            ("attacker's", Kind::Number),
            ("IPs", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
        ],
    )
    .mark("attacker's");
    for (c, p) in &by_country {
        g.row(&mut page.strings, page.origin)
            .text(c)
            .num(p.signins)
            .num(p.failed)
            .num(p.attacker)
            .num(p.ips.len() as u64)
            .opt_time(p.first.as_ref())
            .opt_time(p.last.as_ref());
    }
    page.grid_or_none(
        "Sign-in locations by country",
        g,
        "No sign-ins in the evidence.",
    );
}

fn blast(page: &mut Page, u: &UserImpact, n: usize) {
    let b = &u.blast_radius;
    page.html.push_str("<h3>Blast radius</h3>\n");
    let mut g = Grid::new(
        format!("read-{n}"),
        &[
            ("folder", Kind::Text),
            ("items opened", Kind::Number),
            ("syncs", Kind::Number),
            ("whole folder exposed", Kind::Text),
            ("message ids", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
        ],
    );
    for f in &b.mail_read {
        g.row(&mut page.strings, page.origin)
            .text(&f.folder)
            .num(f.bind_items)
            .num(f.syncs)
            .text(if f.whole_folder_exposed { "yes" } else { "no" })
            .num(f.message_ids.len() as u64)
            .time(&f.first)
            .time(&f.last);
    }
    page.grid_or_none("Mail read", g, "No mail access attributed to the attacker.");

    let mut g = Grid::new(
        format!("sent-{n}"),
        &[
            ("time", Kind::Time),
            ("operation", Kind::Text),
            ("subject", Kind::Text),
            ("recipients", Kind::Text),
            ("message id", Kind::Text),
            ("file", Kind::Text),
            ("line", Kind::Number),
        ],
    );
    for m in &b.mail_sent {
        g.row(&mut page.strings, page.origin)
            .time(&m.time)
            .text(&m.operation)
            .opt(m.subject.as_deref())
            .text(&m.recipients.join(", "))
            .opt(m.message_id.as_deref())
            .text(&m.evidence.file)
            .num(m.evidence.line);
    }
    page.grid_or_none(
        "Mail sent by the attacker",
        g,
        "No mail sent by the attacker.",
    );

    let mut g = Grid::new(
        format!("actions-{n}"),
        &[
            ("time", Kind::Time),
            ("kind", Kind::Text),
            ("operation", Kind::Text),
            ("object", Kind::Text),
            ("details", Kind::Text),
            ("file", Kind::Text),
            ("line", Kind::Number),
            ("record id", Kind::Text),
        ],
    );
    let groups = [
        ("rule / forwarding", &b.rules_and_forwarding),
        ("deleted / moved", &b.mail_deleted_or_moved),
        ("identity", &b.identity_changes),
    ];
    let mut actions: Vec<(&str, &crate::impact::blast_radius::Action)> = groups
        .iter()
        .flat_map(|(k, list)| list.iter().map(move |a| (*k, a)))
        .collect();
    actions.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(b.0)));
    for (kind, a) in actions {
        g.row(&mut page.strings, page.origin)
            .time(&a.time)
            .text(kind)
            .text(&a.operation)
            .opt(a.object.as_deref())
            .text(&a.details.join("; "))
            .text(&a.evidence.file)
            .num(a.evidence.line)
            .opt(a.evidence.record_id.as_deref());
    }
    page.grid_or_none(
        "Inbox rules, forwarding, deletions and identity changes",
        g,
        "None attributed to the attacker.",
    );

    let mut g = Grid::new(
        format!("files-{n}"),
        &[
            ("site", Kind::Text),
            ("operations", Kind::Text),
            ("files", Kind::Number),
            ("names", Kind::Text),
        ],
    );
    for s in &b.files {
        let ops: Vec<String> = s
            .operations
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        g.row(&mut page.strings, page.origin)
            .text(&s.site)
            .text(&ops.join(", "))
            .num(s.files.len() as u64)
            .text(&s.files.join(", "));
    }
    page.grid_or_none(
        "Files touched",
        g,
        "No SharePoint or OneDrive activity attributed to the attacker.",
    );

    let mut g = Grid::new(
        format!("exposed-{n}"),
        &[
            ("address", Kind::Text),
            ("domain", Kind::Text),
            ("internal", Kind::Text),
            ("messages", Kind::Number),
            ("subjects", Kind::Text),
        ],
    );
    for c in &b.exposed_correspondents {
        g.row(&mut page.strings, page.origin)
            .text(&c.address)
            .text(&c.domain)
            .text(if c.internal { "yes" } else { "no" })
            .num(c.messages)
            .text(&c.subjects.join(" | "));
    }
    page.grid_or_none(
        "Correspondents whose mail the attacker saw",
        g,
        "None named by the evidence.",
    );
    if !b.synced_folders.is_empty() {
        let _ = write!(
            page.html,
            "<p class=\"warn\">Folders synchronised whole (every message in them is exposed; their correspondents cannot all be named from message trace): {}</p>\n",
            esc(&b.synced_folders.join(", "))
        );
    }
    if !b.delegated_mailboxes.is_empty() {
        let _ = write!(
            page.html,
            "<p class=\"warn\">Mailboxes reached by delegation: {}</p>\n",
            esc(&b.delegated_mailboxes.join(", "))
        );
    }
}

fn notification(page: &mut Page, u: &UserImpact, n: usize) {
    let list = &u.recipients;
    let mut domains: BTreeMap<&str, (bool, u64, u64)> = BTreeMap::new();
    // Rows are sorted by domain then recipient: a recipient with rows of two kinds counts once.
    let mut previous: Option<&str> = None;
    for r in &list.recipients {
        let d = domains
            .entry(r.domain.as_str())
            .or_insert((r.internal, 0, 0));
        if previous != Some(r.recipient.as_str()) {
            d.1 += 1;
        }
        previous = Some(r.recipient.as_str());
        d.2 += r.count;
    }
    let _ = write!(
        page.html,
        "<h3>Who must be told</h3><p>Recipients of mail from the account between {} and {} (UTC), from message trace{}. \
         To notify: the recipients of mail the attacker sent (tied to the attacker's session, token or IP) \
         and of mail of unknown origin; the recipients of mail the user sent themselves are listed apart.</p>\n",
        list.from.map(|t| time::format(&t)).unwrap_or_default(),
        list.to.map(|t| time::format(&t)).unwrap_or_default(),
        if u.blast_radius.forwarding_targets.is_empty() { "" } else { "; forwarding targets listed with them" }
    );
    let mut g = Grid::new(
        format!("domains-{n}"),
        &[
            ("domain", Kind::Text),
            ("internal", Kind::Text),
            ("recipients", Kind::Number),
            ("messages", Kind::Number),
        ],
    );
    for (d, (internal, people, messages)) in &domains {
        g.row(&mut page.strings, page.origin)
            .text(d)
            .text(if *internal { "yes" } else { "no" })
            .num(*people)
            .num(*messages);
    }
    page.grid_or_none("Recipients by domain", g, "No recipients in the window.");
    let mut g = Grid::new(
        format!("recipients-{n}"),
        &[
            ("domain", Kind::Text),
            ("recipient", Kind::Text),
            ("kind", Kind::Text),
            ("internal", Kind::Text),
            ("sent by", Kind::Text),
            ("messages", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
            ("subjects", Kind::Text),
            ("status", Kind::Text),
            ("why", Kind::Text),
        ],
    );
    for r in &list.recipients {
        g.row(&mut page.strings, page.origin)
            .text(&r.domain)
            .text(&r.recipient)
            .text("recipient")
            .text(if r.internal { "yes" } else { "no" })
            .text(r.sent_by.as_str())
            .num(r.count)
            .time(&r.first)
            .time(&r.last)
            .text(&r.subjects.join(" | "))
            .text(&r.statuses.join(", "))
            .text(&r.sent_by_reason);
    }
    for f in &u.blast_radius.forwarding_targets {
        let domain = crate::impact::recipients::domain_of(f);
        g.row(&mut page.strings, page.origin)
            .text(&domain)
            .text(f)
            .text("forwarding target")
            .text("")
            .rest_blank();
    }
    page.grid_or_none("Notification list", g, "Nobody to notify.");
    if !list.user_sent.is_empty() {
        let mut g = Grid::new(
            format!("user-sent-{n}"),
            &[
                ("domain", Kind::Text),
                ("recipient", Kind::Text),
                ("internal", Kind::Text),
                ("messages", Kind::Number),
                ("first", Kind::Time),
                ("last", Kind::Time),
                ("subjects", Kind::Text),
                ("why the user's own", Kind::Text),
            ],
        );
        for r in &list.user_sent {
            g.row(&mut page.strings, page.origin)
                .text(&r.domain)
                .text(&r.recipient)
                .text(if r.internal { "yes" } else { "no" })
                .num(r.count)
                .time(&r.first)
                .time(&r.last)
                .text(&r.subjects.join(" | "))
                .text(&r.sent_by_reason);
        }
        page.grid(
            "Mail the user sent themselves in the window (not to notify)",
            g,
        );
    }
    if !list.untraced_sends.is_empty() {
        let mut g = Grid::new(
            format!("untraced-{n}"),
            &[
                ("time", Kind::Time),
                ("operation", Kind::Text),
                ("subject", Kind::Text),
                ("message id", Kind::Text),
                ("sent by", Kind::Text),
                ("file", Kind::Text),
                ("line", Kind::Number),
            ],
        );
        for s in &list.untraced_sends {
            g.row(&mut page.strings, page.origin)
                .time(&s.time)
                .text(&s.operation)
                .opt(s.subject.as_deref())
                .opt(s.message_id.as_deref())
                .text(s.sent_by.as_str())
                .text(&s.evidence.file)
                .num(s.evidence.line);
        }
        page.grid(
            "Sent mail with no message-trace row (recipients unknown from this evidence)",
            g,
        );
    }
}

fn findings(page: &mut Page, case: &Case) {
    page.html
        .push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    let mut g = Grid::new(
        "findings",
        &[
            ("#", Kind::Number),
            ("severity", Kind::Text),
            ("first", Kind::Time),
            ("last", Kind::Time),
            ("user", Kind::Text),
            ("rule", Kind::Text),
            ("title", Kind::Text),
            ("summary", Kind::Text),
            ("IPs", Kind::Text),
            ("MITRE", Kind::Text),
            ("evidence rows", Kind::Number),
        ],
    );
    let mut ev = Grid::new(
        "evidence",
        &[
            ("finding #", Kind::Number),
            ("rule", Kind::Text),
            ("user", Kind::Text),
            ("time", Kind::Time),
            ("source", Kind::Text),
            ("operation", Kind::Text),
            ("file", Kind::Text),
            ("line", Kind::Number),
            ("record", Kind::Number),
            ("record id", Kind::Text),
        ],
    )
    .page(50);
    for (i, f) in case.findings.iter().enumerate() {
        let total = f
            .details
            .get("evidence_total")
            .and_then(|v| v.as_u64())
            .unwrap_or(f.evidence.len() as u64);
        g.row(&mut page.strings, page.origin)
            .num(i as u64 + 1)
            .text(f.severity.as_str())
            .time(&f.first)
            .time(&f.last)
            .text(&f.user)
            .text(&f.rule_id)
            .text(&f.title)
            .text(&f.summary)
            .text(&f.ips.join(", "))
            .text(&f.mitre.join(", "))
            .num(total);
        for e in &f.evidence {
            ev.row(&mut page.strings, page.origin)
                .num(i as u64 + 1)
                .text(&f.rule_id)
                .text(&f.user)
                .time(&e.time)
                .text(e.source.as_str())
                .text(&e.operation)
                .text(&e.file)
                .num(e.line)
                .num(e.record)
                .opt(e.record_id.as_deref());
        }
    }
    page.grid_or_none("Findings, in time order", g, "No findings.");
    page.grid_or_none(
        &format!(
            "Evidence rows of the findings (at most {} per finding)",
            crate::detect::finding::MAX_EVIDENCE
        ),
        ev,
        "No evidence rows.",
    );
    page.html.push_str("</section>\n");
}

fn custody(page: &mut Page, case: &Case) {
    let ing = case.ingested;
    page.html.push_str("<section id=\"custody\"><h2>Evidence and chain of custody</h2>\n<p>Every input file with its SHA-256 (of the file on disk; for a zip entry, of the archive) and how each row was accounted for: rows = parsed + duplicates + rejected. Evidence files are only read, never written.</p>\n");
    let mut g = Grid::new(
        "inputs",
        &[
            ("file", Kind::Text),
            ("status", Kind::Text),
            ("variant", Kind::Text),
            ("encoding", Kind::Text),
            ("bytes", Kind::Number),
            ("rows", Kind::Number),
            ("parsed", Kind::Number),
            ("duplicates", Kind::Number),
            ("rejected", Kind::Number),
            ("events", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
            ("SHA-256", Kind::Text),
            ("notes", Kind::Text),
        ],
    );
    for f in &ing.files {
        let status = match f.status {
            crate::ingest::FileStatus::Read => "read",
            crate::ingest::FileStatus::Error => "NOT READ",
            crate::ingest::FileStatus::Cited => "cited",
        };
        let mut notes: Vec<&str> = f.warnings.iter().map(String::as_str).collect();
        notes.extend(f.error.as_deref());
        g.row(&mut page.strings, page.origin)
            .text(&f.path)
            .text(status)
            .opt(f.variant)
            .opt(f.encoding)
            .num(f.bytes)
            .num(f.rows)
            .num(f.parsed)
            .num(f.duplicates)
            .num(f.rejected)
            .num(f.events)
            .opt_time(f.first.as_ref())
            .opt_time(f.last.as_ref())
            .opt(f.sha256.as_deref())
            .text(&notes.join("; "));
    }
    page.grid_or_none("Input files", g, "No input files.");
    let sum = |k: fn(&crate::ingest::FileReport) -> u64| ing.files.iter().map(k).sum::<u64>();
    let _ = write!(
        page.html,
        "<p>Total: {} rows = {} parsed + {} duplicates + {} rejected (listed in <code>rejects.csv</code>).</p>\n",
        sum(|f| f.rows),
        sum(|f| f.parsed),
        sum(|f| f.duplicates),
        sum(|f| f.rejected)
    );
    if !ing.skipped.is_empty() {
        let mut g = Grid::new("skipped", &[("path", Kind::Text), ("reason", Kind::Text)]);
        for s in &ing.skipped {
            g.row(&mut page.strings, page.origin)
                .text(&s.path)
                .text(&s.reason);
        }
        let not_read = ing
            .skipped
            .iter()
            .any(|s| s.kind == crate::ingest::discover::SkipKind::NotRead);
        page.grid(
            if not_read {
                "Files skipped (some may hold evidence and were NOT read: see the reasons)"
            } else {
                "Files skipped (not evidence)"
            },
            g,
        );
    }
    let mut g = Grid::new(
        "coverage",
        &[
            ("source", Kind::Text),
            ("events", Kind::Number),
            ("first", Kind::Time),
            ("last", Kind::Time),
            ("gaps over threshold", Kind::Text),
        ],
    );
    for s in &ing.coverage.sources {
        let gaps: Vec<String> = s.gaps.iter().map(|g| g.to_string()).collect();
        let gaps = if gaps.is_empty() {
            "none".to_string()
        } else {
            gaps.join("; ")
        };
        g.row(&mut page.strings, page.origin)
            .text(s.source.as_str())
            .num(s.events)
            .time(&s.first)
            .time(&s.last)
            .text(&gaps);
    }
    page.grid_or_none("Time covered by each source", g, "No events.");
    let mut g = Grid::new(
        "geoip",
        &[
            ("role", Kind::Text),
            ("database", Kind::Text),
            ("type", Kind::Text),
            ("built", Kind::Text),
            ("source", Kind::Text),
            ("SHA-256", Kind::Text),
        ],
    );
    for d in &case.ips.databases {
        g.row(&mut page.strings, page.origin)
            .text(d.role)
            .text(&d.name)
            .text(&d.database_type)
            .text(&d.build_date)
            .text(&d.source)
            .text(&d.sha256);
    }
    page.grid_or_none(
        "GeoIP databases used (locations and networks depend on them)",
        g,
        "No database was consulted.",
    );
    let command: Vec<String> = case.command.iter().map(|a| shell_word(a)).collect();
    let _ = write!(
        page.html,
        "<h4>Tool</h4><p>breachline {}. Command line:</p><pre class=\"cmd\">{}</pre>\n</section>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&command.join(" "))
    );
}

/// An argument as a shell would need it written.
fn shell_word(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<b a=\"x\" b='y'>&</b>"),
            "&lt;b a=&quot;x&quot; b=&#39;y&#39;&gt;&amp;&lt;/b&gt;"
        );
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("--out"), "--out");
        assert_eq!(shell_word("my case"), "'my case'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
