//! `report.html` in a real headless browser (Debian's `chromium`): the page's script runs
//! without error, renders every table, the chart holds the attacker's events, and a filter
//! narrows the timeline to the rows that match. Skips, saying so, where chromium is missing
//! (`apt-get install chromium`; `.ci/run` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{breachline, fixture};
use serde_json::Value;

/// The browser: `BREACHLINE_CHROMIUM`, else `chromium` / `chromium-browser` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BREACHLINE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Loads `url` headless with a fresh profile and no network features; returns the DOM after
/// the page's script ran.
fn dump_dom(browser: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out_file = tempfile::NamedTempFile::new().expect("dom file");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::from(out_file.reopen().expect("dom file handle")))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("chromium runs") {
            Some(status) => {
                assert!(status.success(), "chromium failed: {status}");
                break;
            }
            None if started.elapsed() > Duration::from_secs(120) => {
                let _ = child.kill();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    std::fs::read_to_string(out_file.path()).expect("DOM dump")
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    tag[start..].split('"').next()
}

#[test]
fn demo_report_renders_charts_the_attacker_and_filters_in_chromium() {
    let Some(browser) = chromium() else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium), so report.html was not checked in a browser");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().display().to_string();
    let demo = fixture("demo").display().to_string();
    let run = breachline(&["analyze", "-q", &demo, "--out", &out]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = dir.path().join("report.html");
    let source = std::fs::read_to_string(&page).expect("report.html");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("summary.json")).expect("summary"),
    )
    .expect("summary JSON");
    let victim = summary["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["verdict"] == "compromised")
        .expect("a compromised user");
    let ip = victim["attacker_ips"][0].as_str().expect("an attacker IP");

    // Rows of the victim's timeline that mention the IP, counted here from the embedded data.
    let open = "<script type=\"application/json\" id=\"case-data\">";
    let start = source.find(open).expect("data block") + open.len();
    let end = start + source[start..].find("</script>").expect("data end");
    let data: Value = serde_json::from_str(&source[start..end]).expect("data JSON");
    let strings = data["S"].as_array().expect("strings");
    let grid = &data["grids"]["timeline-0"];
    let kinds: Vec<char> = grid["kinds"].as_str().expect("kinds").chars().collect();
    let rows = grid["rows"].as_array().expect("rows");
    let expected = rows
        .iter()
        .filter(|r| {
            r.as_array().expect("row").iter().zip(&kinds).any(|(v, k)| {
                *k == 's'
                    && v.as_u64()
                        .and_then(|i| strings[i as usize].as_str())
                        .is_some_and(|s| s.contains(ip))
            })
        })
        .count();
    assert!(
        expected > 0 && expected < rows.len(),
        "the IP is in some rows, not all"
    );

    let url = format!("file://{}#filter=timeline-0:{ip}", page.display());
    let dom = dump_dom(&browser, &url);
    assert!(
        !dom.contains("<pre id=\"js-error\""),
        "the page's script failed:\n{}",
        &dom[..dom.len().min(2000)]
    );
    let grids_in_page = source.matches("<div class=\"grid\" data-grid=").count();
    assert!(grids_in_page > 5);
    assert!(
        dom.contains(&format!("data-grids=\"{grids_in_page}\"")),
        "every table was rendered by the script"
    );
    // Tables rendered: the first page of each has rows the source file does not.
    assert!(dom.matches("<tr").count() > source.matches("<tr").count() + 50);
    // The chart made it through to the rendered page with the attacker's marks.
    assert!(
        dom.matches("class=\"ev atk\"").count() > 0,
        "attacker events in the chart"
    );
    // The filter from the URL narrowed the timeline to exactly the rows with the IP.
    let at = dom
        .find("<output id=\"selftest\"")
        .expect("self-test output written");
    let tag = &dom[at..at + dom[at..].find('>').expect("tag end")];
    let total: usize = attr(tag, "data-total")
        .and_then(|v| v.parse().ok())
        .expect("total");
    let shown: usize = attr(tag, "data-shown")
        .and_then(|v| v.parse().ok())
        .expect("shown");
    let rendered: usize = attr(tag, "data-rendered")
        .and_then(|v| v.parse().ok())
        .expect("rendered");
    assert_eq!(total, rows.len());
    assert_eq!(
        shown, expected,
        "the filter keeps exactly the rows that mention {ip}"
    );
    assert_eq!(rendered, shown.min(100), "one page of them is on screen");
    assert!(
        dom.contains(&format!("{shown} of {total} rows")),
        "the count is shown"
    );
}
