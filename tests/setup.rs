//! The set-up the README promises is true: the Rust version it names is the one the locked
//! dependencies need, and the README stays a short front door.

use std::path::PathBuf;

fn minor(v: &str) -> (u32, u32) {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn manifest() -> toml::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml is readable");
    text.parse().expect("Cargo.toml is TOML")
}

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let ours = manifest()["package"]["rust-version"]
        .as_str()
        .expect("Cargo.toml names a rust-version")
        .to_string();
    let lock: toml::Value =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
            .expect("Cargo.lock is committed")
            .parse()
            .expect("Cargo.lock is TOML");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let sources: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .expect("the registry sources cargo built these tests from")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let (mut checked, mut from_registry) = (0, 0);
    let mut needed = ((0, 0), String::new());
    for p in lock["package"].as_array().expect("[[package]] list") {
        if p.get("source")
            .and_then(|s| s.as_str())
            .is_none_or(|s| !s.starts_with("registry+"))
        {
            continue;
        }
        from_registry += 1;
        let dir = format!(
            "{}-{}",
            p["name"].as_str().unwrap_or(""),
            p["version"].as_str().unwrap_or("")
        );
        let Some(text) = sources
            .iter()
            .find_map(|s| std::fs::read_to_string(s.join(&dir).join("Cargo.toml")).ok())
        else {
            continue;
        };
        checked += 1;
        let Ok(toml) = text.parse::<toml::Value>() else {
            continue;
        };
        if let Some(v) = toml
            .get("package")
            .and_then(|p| p.get("rust-version"))
            .and_then(|v| v.as_str())
        {
            if minor(v) > needed.0 {
                needed = (minor(v), dir);
            }
        }
    }
    // Packages only some platforms build are not extracted; the rest must be there.
    assert!(
        checked * 10 >= from_registry * 8,
        "only {checked} of {from_registry} locked packages found in the registry"
    );
    assert_eq!(
        minor(&ours),
        needed.0,
        "Cargo.toml says rust-version {ours}, the lockfile needs {:?} ({})",
        needed.0,
        needed.1
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    assert!(
        readme.contains(&format!("Rust {ours}")),
        "README must name Rust {ours}"
    );
}
