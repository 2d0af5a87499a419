//! What `analyze` and `explain` print on a terminal or into a pipe: the verdict first, then
//! findings grouped by account and rule; no line wider than the width; no value (address, time,
//! user name, path) ever split across lines, only shortened with `…`.

mod common;

use std::process::Command;

use common::fixture;

fn run(args: &[&str], columns: Option<u16>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_breachline"));
    cmd.args(args).env_remove("COLUMNS").env_remove("NO_COLOR");
    if let Some(c) = columns {
        cmd.env("COLUMNS", c.to_string());
    }
    let out = cmd.output().expect("breachline runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn victim() -> String {
    let text = std::fs::read_to_string(fixture("demo/answer_key.toml")).expect("answer key");
    let key: toml::Value = toml::from_str(&text).expect("answer key parses");
    key["compromised"][0]["user"]
        .as_str()
        .expect("victim")
        .to_string()
}

/// Every word that looks like an address, a time or a user name is whole, or visibly
/// shortened (ends with `…`): a value split across two lines leaves a piece that is neither.
fn assert_no_split(text: &str, width: usize) {
    let time = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").unwrap();
    let ipv4 = regex::Regex::new(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$").unwrap();
    let upn = regex::Regex::new(r"^[a-z0-9._:-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.example$").unwrap();
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "line wider than {width}: {line:?}"
        );
        assert!(
            !line.contains(['│', '┌', '─', '╞', '┆']),
            "box drawing in plain output: {line:?}"
        );
        for word in line.split_whitespace() {
            let w = word.trim_matches(|c: char| "()[],;:.\"'".contains(c));
            if w.ends_with('…') || w.starts_with('…') {
                continue;
            }
            if w.starts_with("20")
                && w.len() >= 4
                && w[..4].chars().all(|c| c.is_ascii_digit())
                && w.contains('-')
            {
                assert!(time.is_match(w), "time split: {w:?} in {line:?}");
            }
            if w.contains('@') {
                assert!(upn.is_match(w), "address split: {w:?} in {line:?}");
            }
            if w.chars().next().is_some_and(|c| c.is_ascii_digit())
                && w.matches('.').count() >= 1
                && w.chars().all(|c| c.is_ascii_digit() || c == '.')
                && w.split('.').count() > 2
            {
                assert!(ipv4.is_match(w), "IP split: {w:?} in {line:?}");
            }
        }
    }
}

#[test]
fn analyze_prints_the_verdict_first_and_fits_80_120_200_columns_and_a_pipe() {
    let demo = fixture("demo");
    let demo = demo.to_str().expect("utf-8");
    let victim = victim();
    for (columns, width) in [
        (Some(80), 80),
        (Some(120), 120),
        (Some(200), 200),
        (None, 160),
    ] {
        let text = run(&["analyze", "-q", demo], columns);
        assert_no_split(&text, width);
        let verdicts = text.find("Verdicts").expect("verdict heading");
        let findings = text.find("Findings by account and rule").expect("findings");
        assert!(verdicts < findings, "{text}");
        // The compromised account, its window and attacker addresses, whole.
        let block = &text[verdicts..findings];
        assert!(block.contains(&format!("COMPROMISED  {victim}")), "{block}");
        for v in [
            "2024-05-13T14:19:37Z",
            "2024-05-15T03:07:00Z",
            "188.166.14.77",
            "45.77.62.19",
            "ap.remit@proton-mailbox.example",
        ] {
            assert!(block.contains(v), "{v} at {columns:?}: {block}");
        }
        assert!(block.contains("24 recipients"), "{block}");
        assert!(
            block.contains("mail sent") && block.contains("identity"),
            "{block}"
        );
        // What the evidence lacks is said before the findings.
        assert!(block.contains("no Entra audit log"), "{block}");
        // High and above by default: no low finding's rule is listed.
        assert!(!text[findings..].contains("first-seen-asn"), "{text}");
        assert!(text[findings..].contains("--all lists every one"), "{text}");
    }
}

#[test]
fn analyze_all_lists_every_finding_grouped() {
    let demo = fixture("demo");
    let text = run(
        &["analyze", "-q", demo.to_str().expect("utf-8"), "--all"],
        Some(120),
    );
    assert_no_split(&text, 120);
    let findings = &text[text.find("Findings by account and rule").expect("findings")..];
    // Every finding of the run is listed: as many as `--json` gives.
    let json = run(
        &["analyze", "-q", demo.to_str().expect("utf-8"), "--json"],
        None,
    );
    let all: Vec<serde_json::Value> = serde_json::from_str(&json).expect("JSON findings");
    let n = all.len();
    assert!(n > 30, "{n}");
    assert!(
        findings.contains(&format!("all findings, {n} of {n}")),
        "{findings}"
    );
    assert!(findings.contains("first-seen-asn"), "{findings}");
    // One group per account and rule: the victim's two first-seen-asn findings are one line.
    let victim = victim();
    let mine = &findings[findings.find(&format!("{victim} (")).expect("victim group")..];
    let mine = &mine[..mine.find("\n\n").unwrap_or(mine.len())];
    assert_eq!(
        mine.lines()
            .filter(|l| l.contains("  first-seen-asn "))
            .count(),
        1,
        "{mine}"
    );
    // --min-severity still chooses the level.
    let text = run(
        &[
            "analyze",
            "-q",
            demo.to_str().expect("utf-8"),
            "--min-severity",
            "medium",
        ],
        Some(120),
    );
    assert!(text.contains("findings at medium or above"), "{text}");
    assert!(text.contains("hosting-vpn-signin"), "{text}");
}

#[test]
fn analyze_names_recipients_csv_in_the_case_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("case");
    let demo = fixture("demo");
    let text = run(
        &[
            "analyze",
            "-q",
            demo.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Some(200),
    );
    let csv = out.join("recipients.csv");
    assert!(csv.is_file());
    assert!(text.contains(&csv.display().to_string()), "{text}");
}

/// The time an item of the story starts with, if the line starts one.
fn item_time(line: &str) -> Option<&str> {
    let t = line.get(..20)?;
    (t.starts_with("20") && t.ends_with('Z')).then_some(t)
}

#[test]
fn explain_tells_the_victims_story_in_time_order_with_citations() {
    let demo = fixture("demo");
    let victim = victim();
    for width in [80u16, 120, 200] {
        let text = run(
            &["explain", &victim, demo.to_str().expect("utf-8"), "-q"],
            Some(width),
        );
        assert_no_split(&text, width as usize);
        assert!(
            text.starts_with(&format!("{victim}: compromised")),
            "{text}"
        );
        // Items (each starting with its time) in time order.
        let lines: Vec<&str> = text.lines().collect();
        let times: Vec<&str> = lines.iter().filter_map(|l| item_time(l)).collect();
        assert!(times.len() >= 5, "{text}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        // An item's text runs from its time to the next item's time.
        let item = |needle: &str| -> (usize, String) {
            let at = lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {text}"));
            let start = (0..=at)
                .rev()
                .find(|&i| item_time(lines[i]).is_some())
                .expect("item");
            let end = (start + 1..lines.len())
                .find(|&i| item_time(lines[i]).is_some() || lines[i].is_empty())
                .unwrap_or(lines.len());
            (start, lines[start..end].join(" "))
        };
        let (first, _) = item("FIRST SIGNAL");
        let (signin, signin_text) = item("attacker sign-in from 188.166.14.77");
        let (contained, contained_text) = item("CONTAINMENT: password reset");
        let (after, _) = item("AFTER CONTAINMENT");
        assert!(
            first < signin && signin < contained && contained < after,
            "{text}"
        );
        assert!(lines[signin].starts_with("2024-05-13T14:19:37Z"), "{text}");
        assert!(
            contained_text.contains("it.admin@northwindtraders.example"),
            "{text}"
        );
        // The sign-in cites its row, and the row is that sign-in.
        let cite_at = signin_text
            .find("[signins/InteractiveSignIns_2024-05-06_2024-05-20.csv:")
            .unwrap_or_else(|| panic!("citation in {signin_text}"));
        let cite = &signin_text[cite_at + 1..];
        let cite = &cite[..cite.find(']').expect("citation ends")];
        let (file, line) = cite.rsplit_once(':').expect("file:line");
        let line: usize = line.parse().expect("line number");
        let csv = std::fs::read_to_string(fixture("demo").join(file)).expect("cited file");
        let row = csv.lines().nth(line - 1).expect("cited line");
        assert!(row.contains("188.166.14.77"), "{row}");
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("3 attacker events AFTER it"), "{text}");
    }
}

#[test]
fn explain_a_clean_account_or_one_not_in_the_evidence() {
    let demo = fixture("demo");
    let demo = demo.to_str().expect("utf-8");
    let text = run(
        &["explain", "grace.kim@northwindtraders.example", demo, "-q"],
        Some(100),
    );
    assert!(
        text.contains("grace.kim@northwindtraders.example:"),
        "{text}"
    );
    let text = run(
        &["explain", "nobody@northwindtraders.example", demo, "-q"],
        Some(100),
    );
    assert!(text.contains("not in the evidence read"), "{text}");
}

#[test]
fn readme_stays_short() {
    let readme = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    assert!(
        readme.len() <= 12 * 1024,
        "README.md is {} bytes",
        readme.len()
    );
}
