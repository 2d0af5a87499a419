//! GeoIP enrichment: the embedded defaults, the investigator's own databases (small ones
//! written here with mmdb-writer), precedence, non-public ranges, network labels and config.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use breachline::enrich::{
    self, Exported, GeoIp, GeoIpOptions, IpScope, NetworkConfig, NetworkKind, Precision, Provenance,
};
use breachline::model::{Event, Source};
use common::{breachline, fixture, stdout};
use ipnet::IpNet;
use mmdb_writer::Writer;
use serde_json::{json, Value};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn net(s: &str) -> IpNet {
    s.parse().expect("test network")
}

/// Writes a database of `(network, record)` pairs and returns its path.
fn write_db(dir: &Path, name: &str, db_type: &str, records: &[(&str, Value)]) -> PathBuf {
    let mut w = Writer::builder(db_type)
        .build_epoch(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_714_521_600))
        .build();
    for (n, rec) in records {
        w.insert(net(n), rec).expect("insert test record");
    }
    let path = dir.join(name);
    std::fs::write(&path, w.to_bytes().expect("serialise test database")).expect("write test db");
    path
}

/// A GeoLite2-City-shaped database: 188.166.0.0/16 in Frankfurt (the embedded data says NL),
/// and a private range that must never be looked up.
fn city_db(dir: &Path) -> PathBuf {
    let frankfurt = json!({
        "country": {"iso_code": "DE", "names": {"en": "Germany"}},
        "city": {"names": {"en": "Frankfurt am Main"}},
        "subdivisions": [{"iso_code": "HE", "names": {"en": "Hesse"}}],
        "location": {"latitude": 50.1109, "longitude": 8.6821, "accuracy_radius": 20},
    });
    let private = json!({"country": {"iso_code": "US"}});
    write_db(
        dir,
        "GeoLite2-City-test.mmdb",
        "GeoLite2-City",
        &[("188.166.0.0/16", frankfurt), ("10.0.0.0/8", private)],
    )
}

fn asn_db(dir: &Path) -> PathBuf {
    write_db(
        dir,
        "GeoLite2-ASN-test.mmdb",
        "GeoLite2-ASN",
        &[(
            "188.166.0.0/16",
            json!({"autonomous_system_number": 64500, "autonomous_system_organization": "Test Transit"}),
        )],
    )
}

fn geo_with(city: Option<PathBuf>, asn: Option<PathBuf>) -> GeoIp {
    GeoIp::open(&GeoIpOptions { city, asn }).expect("test database opens")
}

#[test]
fn embedded_databases_answer_with_no_setup() {
    let geo = GeoIp::embedded();
    let nets = NetworkConfig::builtin();
    let i = enrich::lookup(ip("45.77.62.19"), &Exported::default(), &geo, &nets);
    assert_eq!(i.scope, IpScope::Public);
    assert!(i.country.is_some());
    assert_eq!(i.asn, Some(20473));
    assert_eq!(i.network, NetworkKind::Hosting);
    assert_eq!(i.provider.as_deref(), Some("Vultr"));
    // Country-level data only: the coordinates are a country centre, and say so.
    assert_eq!(
        i.location.map(|p| p.precision),
        Some(Precision::CountryCentroid)
    );
}

#[test]
fn own_city_database_takes_precedence_and_gives_coordinates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let geo = geo_with(Some(city_db(dir.path())), None);
    let nets = NetworkConfig::builtin();
    let i = enrich::lookup(ip("188.166.14.77"), &Exported::default(), &geo, &nets);
    assert_eq!(i.country.as_deref(), Some("DE"));
    assert_eq!(i.city.as_deref(), Some("Frankfurt am Main"));
    assert_eq!(i.region.as_deref(), Some("Hesse"));
    assert_eq!(
        i.country_from,
        Some(Provenance::Database("GeoLite2-City-test.mmdb".into()))
    );
    let p = i.location.expect("city coordinates");
    assert_eq!(p.precision, Precision::City);
    assert!((p.lat - 50.1109).abs() < 1e-6 && p.accuracy_km == Some(20));
    // The test database has no ASN: the embedded one still answers.
    assert_eq!(i.asn, Some(14061));
    assert_eq!(
        i.asn_from,
        Some(Provenance::Database("embedded asn".into()))
    );
    // An address the test database does not cover falls back to the embedded country data.
    let other = enrich::lookup(ip("8.8.8.8"), &Exported::default(), &geo, &nets);
    assert_eq!(other.country.as_deref(), Some("US"));
    assert_eq!(
        other.country_from,
        Some(Provenance::Database("embedded country".into()))
    );
    // Every database used is reported, with its build date.
    let dbs = geo.databases();
    assert_eq!(dbs[0].name.as_ref(), "GeoLite2-City-test.mmdb");
    assert_eq!(dbs[0].build_date, "2024-05-01T00:00:00Z");
    assert_eq!(dbs.len(), 3);
}

#[test]
fn own_asn_database_takes_precedence() {
    let dir = tempfile::tempdir().expect("temp dir");
    let geo = geo_with(None, Some(asn_db(dir.path())));
    let i = enrich::lookup(
        ip("188.166.1.1"),
        &Exported::default(),
        &geo,
        &NetworkConfig::builtin(),
    );
    assert_eq!(i.asn, Some(64500));
    assert_eq!(i.as_org.as_deref(), Some("Test Transit"));
    // AS64500 is on no list: an ordinary network.
    assert_eq!(i.network, NetworkKind::Isp);
    assert_eq!(i.country.as_deref(), Some("NL"));
}

#[test]
fn ipinfo_style_flat_records_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_db(
        dir.path(),
        "ipinfo_lite.mmdb",
        "ipinfo lite.mmdb",
        &[(
            "5.9.0.0/16",
            json!({"country": "Germany", "country_code": "DE", "asn": "AS24940", "as_name": "Hetzner Online GmbH"}),
        )],
    );
    let geo = geo_with(Some(path), None);
    let i = enrich::lookup(
        ip("5.9.10.10"),
        &Exported::default(),
        &geo,
        &NetworkConfig::builtin(),
    );
    assert_eq!(i.country.as_deref(), Some("DE"));
    assert_eq!(i.asn, Some(24940));
    assert_eq!(i.as_org.as_deref(), Some("Hetzner Online GmbH"));
    assert_eq!(
        i.asn_from,
        Some(Provenance::Database("ipinfo_lite.mmdb".into()))
    );
    assert_eq!(i.network, NetworkKind::Hosting);
}

#[test]
fn private_and_reserved_addresses_are_labelled_never_looked_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let geo = geo_with(Some(city_db(dir.path())), None);
    let nets = NetworkConfig::builtin();
    for (addr, scope) in [
        ("10.1.2.3", IpScope::Private),
        ("192.168.0.10", IpScope::Private),
        ("127.0.0.1", IpScope::Loopback),
        ("100.64.1.1", IpScope::Cgnat),
        ("203.0.113.5", IpScope::Documentation),
        ("fe80::1", IpScope::LinkLocal),
        ("240.0.0.1", IpScope::Reserved),
    ] {
        let i = enrich::lookup(ip(addr), &Exported::default(), &geo, &nets);
        assert_eq!(i.scope, scope, "{addr}");
        assert_eq!(i.network, NetworkKind::NotPublic, "{addr}");
        assert!(
            i.country.is_none() && i.asn.is_none(),
            "{addr} was looked up: {i:?}"
        );
    }
}

fn event_from(addr: &str, country: &str, asn: u32) -> Event {
    let mut e = Event::new(
        chrono::Utc::now(),
        Source::Signin,
        "alice@contoso.example".into(),
        "Sign-in".into(),
    );
    e.ip = Some(ip(addr));
    e.country = Some(country.into());
    e.asn = Some(asn);
    e
}

#[test]
fn exported_values_stay_primary_and_disagreement_is_noted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let geo = geo_with(Some(city_db(dir.path())), None);
    // The export says NL / AS14061; the test city database says DE.
    let events = vec![event_from("188.166.14.77", "NL", 14061); 3];
    let table = enrich::enrich(&events, &geo, &NetworkConfig::builtin());
    let i = table
        .get(ip("188.166.14.77"))
        .expect("the address is in the table");
    assert_eq!(i.events, 3);
    assert_eq!(i.country.as_deref(), Some("NL"));
    assert_eq!(i.country_from, Some(Provenance::Export));
    assert_eq!(i.asn_from, Some(Provenance::Export));
    assert_eq!(i.disagreements.len(), 1, "{:?}", i.disagreements);
    assert!(i.disagreements[0].contains("export NL") && i.disagreements[0].contains("DE"));
    // Frankfurt's coordinates do not stand for an exported NL: the NL centre is used instead.
    assert_eq!(
        i.location.map(|p| p.precision),
        Some(Precision::CountryCentroid)
    );
    assert_eq!(i.network, NetworkKind::Hosting);
}

#[test]
fn network_config_adds_lists_corporate_egress_and_trusted_countries() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ours.csv"),
        "asn,name,category,note\n3320,Telekom test entry,vpn,\n14061,DigitalOcean (our VDI),isp,\n",
    )
    .expect("write list");
    let cfg = dir.path().join("network.toml");
    std::fs::write(
        &cfg,
        "trusted_countries = [\"us\", \"NL\"]\ncorporate_egress = [\"12.145.60.0/24\", \"2a03:b0c0::1\"]\nasn_lists = [\"ours.csv\"]\n\n[[asn]]\nasn = 20473\nname = \"Vultr, as we know it\"\ncategory = \"proxy\"\n",
    )
    .expect("write config");
    let nets = NetworkConfig::load(&cfg).expect("config loads");
    let geo = GeoIp::embedded();
    let lookup = |a: &str| enrich::lookup(ip(a), &Exported::default(), &geo, &nets);
    assert_eq!(lookup("12.145.60.10").network, NetworkKind::Corporate);
    assert_eq!(lookup("2a03:b0c0::1").network, NetworkKind::Corporate);
    let do_ip = lookup("188.166.14.77");
    assert_eq!(
        do_ip.network,
        NetworkKind::Isp,
        "the user's list took DigitalOcean off"
    );
    assert!(do_ip.trusted_country);
    let vultr = lookup("45.77.62.19");
    assert_eq!(vultr.network, NetworkKind::Vpn);
    assert_eq!(vultr.provider.as_deref(), Some("Vultr, as we know it"));
    assert!(!vultr.trusted_country);
    assert!(nets.sources.iter().any(|s| s.ends_with("ours.csv")));
}

#[test]
fn a_bad_network_config_names_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("network.toml");
    std::fs::write(&cfg, "corporate_egress = [\"not-a-net\"]\n").expect("write");
    let err = NetworkConfig::load(&cfg)
        .err()
        .expect("bad CIDR is an error")
        .to_string();
    assert!(
        err.contains("network.toml")
            && err.contains("corporate_egress")
            && err.contains("not-a-net"),
        "{err}"
    );
    std::fs::write(&cfg, "trusted_country = [\"US\"]\n").expect("write");
    let err = NetworkConfig::load(&cfg)
        .err()
        .expect("unknown key is an error")
        .to_string();
    assert!(
        err.contains("trusted_country") && err.contains("expected"),
        "{err}"
    );
}

#[test]
fn inspect_shows_country_and_asn_for_every_public_ip_of_the_demo() {
    let out = breachline(&[
        "inspect",
        "--json",
        "-q",
        fixture("demo").to_str().expect("utf-8 path"),
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_str(&stdout(&out)).expect("inspect JSON");
    let ips = v["ips"].as_array().expect("ips list");
    let public: Vec<&Value> = ips.iter().filter(|i| i["scope"] == "public").collect();
    assert!(public.len() > 100, "{}", public.len());
    for i in &public {
        assert!(
            i["country"].is_string() && i["asn"].is_u64(),
            "no country or ASN: {i}"
        );
    }
    // The attacker's addresses are labelled as hosting, with the provider named.
    for (addr, provider) in [("188.166.14.77", "DigitalOcean"), ("45.77.62.19", "Vultr")] {
        let i = ips
            .iter()
            .find(|i| i["ip"] == addr)
            .expect("attacker IP listed");
        assert_eq!(i["network"], "hosting", "{i}");
        assert_eq!(i["provider"], provider, "{i}");
    }
    let dbs = v["geoip"].as_array().expect("databases listed");
    assert_eq!(dbs.len(), 2);
    assert!(dbs.iter().all(|d| d["build_date"]
        .as_str()
        .is_some_and(|s| s.starts_with("20"))));
}

#[test]
fn timeline_csv_carries_the_ip_columns() {
    let out = breachline(&[
        "timeline",
        "-q",
        fixture("demo").to_str().expect("utf-8 path"),
        "--user",
        "priya.natarajan@northwindtraders.example",
        "--source",
        "audit",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().expect("header").clone();
    let col = |n: &str| headers.iter().position(|h| h == n).expect("column present");
    let (c_ip, c_country, c_asn, c_net) = (
        col("ip"),
        col("ip_country"),
        col("ip_asn"),
        col("ip_network"),
    );
    let mut attacker_rows = 0;
    for r in rows.records() {
        let r = r.expect("row");
        if &r[c_ip] == "188.166.14.77" {
            attacker_rows += 1;
            assert_eq!(&r[c_asn], "14061");
            assert_eq!(&r[c_net], "hosting");
            assert_eq!(&r[c_country], "NL");
        }
    }
    assert!(attacker_rows > 10, "{attacker_rows}");
}

#[test]
fn enrich_command_labels_private_malformed_and_public_addresses() {
    let out = breachline(&["enrich", "--json", "188.166.14.77", "10.0.0.1", "not-an-ip"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a malformed input is an error exit"
    );
    let v: Value = serde_json::from_str(&stdout(&out)).expect("enrich JSON");
    let a = v["addresses"].as_array().expect("addresses");
    assert_eq!(a[0]["info"]["network"], "hosting");
    assert_eq!(a[0]["info"]["asn"], 14061);
    assert_eq!(a[1]["info"]["scope"], "private");
    assert_eq!(a[1]["info"]["network"], "not-public");
    assert_eq!(a[2]["malformed"], true);
}

#[test]
fn a_corrupt_database_is_an_error_naming_it_before_evidence_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("GeoLite2-ASN.mmdb");
    std::fs::write(&bad, vec![0u8; 4096]).expect("write");
    let out = breachline(&[
        "inspect",
        "-q",
        fixture("demo").to_str().expect("utf-8 path"),
        "--geoip-asn",
        bad.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GeoLite2-ASN.mmdb") && err.contains("asn database"),
        "{err}"
    );
    assert!(
        stdout(&out).is_empty(),
        "nothing is reported from half the databases"
    );
}
