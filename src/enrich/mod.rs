//! Enrich: what is known about every IP in the evidence. Country, city, coordinates, ASN and
//! owner come from MaxMind-format databases (an embedded default, or the investigator's own);
//! the network kind (hosting, VPN, ISP, corporate egress) from a curated ASN list and the
//! investigator's network config.
//!
//! Each distinct IP is looked up once, in parallel, into an [`Enrichment`] table that later
//! stages consult by address. Values the export itself carries (Entra sign-ins have country,
//! city and ASN) stay primary; where the database says otherwise, [`IpInfo::disagreements`]
//! says so.

pub mod centroids;
pub mod geoip;
pub mod networks;
pub mod profile;
pub mod scope;

use std::collections::BTreeMap;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::model::{Event, Text};
pub use geoip::{DatabaseInfo, GeoIp, GeoIpOptions};
pub use networks::{NetworkConfig, ProviderCategory};
pub use profile::{IpDigest, IpProfile};
pub use scope::{scope_of, IpScope};

/// Errors that stop enrichment: a database or config file that is missing or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("{path}: cannot read the {role} database: {reason}")]
    Database {
        path: String,
        role: &'static str,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Config { path: String, reason: String },
    #[error("{path}, line {line}: {reason}")]
    List {
        path: String,
        line: u64,
        reason: String,
    },
}

/// What kind of network an address belongs to, the question behind "was this the user?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum NetworkKind {
    /// Cloud, VPS, dedicated or CDN hosting: people do not live there.
    #[serde(rename = "hosting")]
    Hosting,
    /// A commercial VPN or anonymising proxy network.
    #[serde(rename = "vpn")]
    Vpn,
    /// Anything else with a known owner: home, mobile and business access networks.
    #[serde(rename = "residential/isp")]
    Isp,
    /// An address or range the investigator declared as the organisation's own egress.
    #[serde(rename = "corporate")]
    Corporate,
    /// Private, loopback, documentation or reserved: not on the public internet.
    #[serde(rename = "not-public")]
    NotPublic,
    /// Public, but no database knows its owner.
    #[serde(rename = "unknown")]
    Unknown,
}

impl NetworkKind {
    /// A rented network (hosting or VPN): where people do not live, and where attackers and
    /// the tenant's own VPN and VDI pools do.
    pub fn is_rented(self) -> bool {
        matches!(self, NetworkKind::Hosting | NetworkKind::Vpn)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetworkKind::Hosting => "hosting",
            NetworkKind::Vpn => "vpn",
            NetworkKind::Isp => "residential/isp",
            NetworkKind::Corporate => "corporate",
            NetworkKind::NotPublic => "not-public",
            NetworkKind::Unknown => "unknown",
        }
    }
}

/// How precise a coordinate is: a city database's point, or the centre of a country when only
/// country-level data exists (distances between those are rough; findings must say so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    City,
    CountryCentroid,
}

/// A place on the globe, for distance and speed between sign-ins.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    pub precision: Precision,
    /// The database's accuracy radius in km, where it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_km: Option<u16>,
}

/// Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
pub fn distance_km(a: &GeoPoint, b: &GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// Where a value came from: the evidence export itself, or a named database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// The export carried it (Entra sign-in location, ASN).
    Export,
    /// A database answered; the text names it (`embedded country`, `GeoLite2-City`...).
    Database(Text),
}

/// Everything breachline knows about one address.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IpInfo {
    pub ip: IpAddr,
    pub scope: IpScope,
    /// ISO 3166-1 alpha-2: the exported value where the evidence has one, else the database's.
    pub country: Option<Text>,
    pub country_from: Option<Provenance>,
    pub region: Option<Text>,
    pub city: Option<Text>,
    pub asn: Option<u32>,
    pub asn_from: Option<Provenance>,
    /// The AS's registered organisation.
    pub as_org: Option<Text>,
    pub location: Option<GeoPoint>,
    pub network: NetworkKind,
    /// Provider name from the hosting / VPN list, where the ASN is on it.
    pub provider: Option<Text>,
    /// The country is on the investigator's trusted list.
    pub trusted_country: bool,
    /// Where the export and the database disagree (`country: export NL, database DE`).
    pub disagreements: Vec<String>,
    /// Events in the evidence from this address.
    pub events: u64,
    /// Distinct accounts that acted successfully from this address's network (its /16 for a
    /// hosting or VPN address, where a VPN or VDI pool hands out addresses; else its /24; /48 for
    /// IPv6), in sign-ins and audit records.
    pub accounts: u32,
    /// Distinct UTC days with such activity in that network.
    pub days: u32,
    /// Tenant egress: its network used by at least [`SHARED_MIN_ACCOUNTS`] accounts, at least
    /// [`SHARED_MIN_HABITUAL`] of them on [`SHARED_MIN_DAYS`] days or more each (a corporate VPN,
    /// a VDI pool, an office), or by [`WIDELY_USED_ACCOUNTS`] accounts on [`WIDELY_USED_DAYS`]
    /// days: an everyday address of the tenant, not one attacker's. Where no two accounts meet
    /// on one of the network's addresses, an account that works from the network every day
    /// (its own server or VPN) is not counted.
    pub shared: bool,
    /// The most distinct accounts that failed a password from this address within one hour:
    /// five or more is a password spray's source, whatever the address's network.
    pub spray_accounts: u32,
}

/// Sign-in error codes of a wrong or unusable password (Entra AADSTS numbers): invalid user
/// name or password, locked (smart lockout), user not found, password expired, disabled.
pub const PASSWORD_FAILURE_CODES: &[&str] = &["50126", "50053", "50034", "50055", "50056", "50057"];

/// Autonomous systems of Microsoft's own services (Azure and Microsoft's corporate and Office
/// 365 networks). A server-side audit record (a mailbox action done by Exchange, a SharePoint
/// job, a directory change by an Entra service) carries such an address as its client IP.
pub const MICROSOFT_ASNS: &[u32] = &[8068, 8069, 8070, 8071, 8075, 12076, 3598, 6584, 23468];

/// Accounts an address's network must serve to count as the tenant's shared egress.
pub const SHARED_MIN_ACCOUNTS: u32 = 3;
/// Of those, how many must use it habitually (on [`SHARED_MIN_DAYS`] days or more each): a VPN
/// or VDI pool is where people work every day, while a phishing proxy touches each of the
/// accounts it took over on a day or two.
pub const SHARED_MIN_HABITUAL: u32 = 2;
/// Days of use that make an account a habitual user of a network.
pub const SHARED_MIN_DAYS: u32 = 3;
/// A network used now and then by this many accounts, on this many different days, is shared
/// too (a VPN people switch on when they travel): a phishing campaign that reaches six accounts
/// of one tenant on five separate days from one network is rare.
pub const WIDELY_USED_ACCOUNTS: u32 = 6;
/// See [`WIDELY_USED_ACCOUNTS`].
pub const WIDELY_USED_DAYS: u32 = 5;

impl IpInfo {
    /// An address with nothing looked up yet: only its scope, and `NotPublic` / `Unknown`.
    pub fn bare(ip: IpAddr) -> IpInfo {
        let scope = scope_of(ip);
        IpInfo {
            ip,
            scope,
            country: None,
            country_from: None,
            region: None,
            city: None,
            asn: None,
            asn_from: None,
            as_org: None,
            location: None,
            network: if scope.is_public() {
                NetworkKind::Unknown
            } else {
                NetworkKind::NotPublic
            },
            provider: None,
            trusted_country: false,
            disagreements: Vec::new(),
            events: 0,
            accounts: 0,
            days: 0,
            shared: false,
            spray_accounts: 0,
        }
    }
}

impl IpInfo {
    /// `Noord-Holland / Amsterdam`, for tables.
    pub fn region_city(&self) -> String {
        [self.region.as_deref(), self.city.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// The values an export carried for one address, most common first (ties by value, so the
/// choice is the same on every run).
#[derive(Clone, Debug, Default)]
pub struct Exported {
    pub country: Option<Text>,
    pub region: Option<Text>,
    pub city: Option<Text>,
    pub asn: Option<u32>,
}

/// The per-IP table later stages read.
#[derive(Clone, Debug, Default)]
pub struct Enrichment {
    infos: FxHashMap<IpAddr, IpInfo>,
    /// The databases consulted, in the order they were asked, for every report.
    pub databases: Vec<DatabaseInfo>,
}

impl Enrichment {
    /// A table from ready-made entries (tests, and stages that build their own).
    pub fn from_infos(infos: Vec<IpInfo>, databases: Vec<DatabaseInfo>) -> Enrichment {
        Enrichment {
            infos: infos.into_iter().map(|i| (i.ip, i)).collect(),
            databases,
        }
    }

    pub fn get(&self, ip: IpAddr) -> Option<&IpInfo> {
        self.infos.get(&ip)
    }

    /// What is known about the address an event came from.
    pub fn for_event(&self, e: &Event) -> Option<&IpInfo> {
        e.ip.and_then(|ip| self.get(ip))
    }

    pub fn len(&self) -> usize {
        self.infos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Every entry, by address (a total order).
    pub fn sorted(&self) -> Vec<&IpInfo> {
        let mut v: Vec<&IpInfo> = self.infos.values().collect();
        v.sort_by_key(|i| i.ip);
        v
    }
}

/// Looks up every distinct address in `events` once, in parallel.
pub fn enrich(events: &[Event], geo: &GeoIp, nets: &NetworkConfig) -> Enrichment {
    IpProfile::of(events, |_| true).finish(geo, nets)
}

/// What breachline knows about one address, given what the exports said about it.
pub fn lookup(ip: IpAddr, exported: &Exported, geo: &GeoIp, nets: &NetworkConfig) -> IpInfo {
    let mut info = IpInfo::bare(ip);
    if !info.scope.is_public() {
        return info;
    }
    let found = geo.lookup(ip);
    let db = |name: &Text| Some(Provenance::Database(name.clone()));

    match (&exported.country, &found.country) {
        (Some(ex), db_value) => {
            info.country = Some(ex.clone());
            info.country_from = Some(Provenance::Export);
            if let Some((dbc, name)) = db_value {
                if !dbc.eq_ignore_ascii_case(ex) {
                    info.disagreements
                        .push(format!("country: export {ex}, {name} {dbc}"));
                }
            }
        }
        (None, Some((dbc, name))) => {
            info.country = Some(dbc.clone());
            info.country_from = db(name);
        }
        (None, None) => {}
    }
    if exported.city.is_some() {
        info.city = exported.city.clone();
        info.region = exported.region.clone();
    } else {
        info.city = found.city.clone();
        info.region = found.region.clone();
    }
    match (exported.asn, &found.asn) {
        (Some(ex), db_value) => {
            info.asn = Some(ex);
            info.asn_from = Some(Provenance::Export);
            if let Some((dba, org, name)) = db_value {
                if *dba != ex {
                    info.disagreements
                        .push(format!("asn: export AS{ex}, {name} AS{dba}"));
                } else {
                    info.as_org = org.clone();
                }
            }
        }
        (None, Some((dba, org, name))) => {
            info.asn = Some(*dba);
            info.as_org = org.clone();
            info.asn_from = db(name);
        }
        (None, None) => {}
    }
    // The database's point only stands for the exported place when both name the same country.
    let same_country = match (&info.country, &found.country) {
        (Some(c), Some((dbc, _))) => c.eq_ignore_ascii_case(dbc),
        _ => false,
    };
    info.location = found.location.filter(|_| same_country).or_else(|| {
        info.country
            .as_deref()
            .and_then(centroids::centroid)
            .map(|(lat, lon)| GeoPoint {
                lat,
                lon,
                precision: Precision::CountryCentroid,
                accuracy_km: None,
            })
    });
    info.trusted_country = info
        .country
        .as_deref()
        .is_some_and(|c| nets.is_trusted_country(c));
    let (network, provider) = nets.classify(ip, info.asn);
    info.network = network;
    info.provider = provider;
    info
}

/// The network an address is pooled with for [`IpInfo::shared`], named by its first address:
/// the /16 of a hosting or VPN address (a data centre's egress pool), else the /24; /48 for IPv6.
pub fn pool_of(ip: IpAddr, network: NetworkKind) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let third = if network.is_rented() { 0 } else { o[2] };
            IpAddr::V4(std::net::Ipv4Addr::new(o[0], o[1], third, 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    }
}

/// The most distinct users among `(unix seconds, user)` pairs (sorted) within any hour.
fn most_in_an_hour(failures: &[(i64, &str)]) -> u32 {
    let mut in_window: BTreeMap<&str, u32> = BTreeMap::new();
    let mut start = 0;
    let mut best = 0;
    for &(t, user) in failures {
        *in_window.entry(user).or_default() += 1;
        while failures[start].0 < t - 3600 {
            let u = failures[start].1;
            if let Some(n) = in_window.get_mut(u) {
                *n -= 1;
                if *n == 0 {
                    in_window.remove(u);
                }
            }
            start += 1;
        }
        best = best.max(in_window.len() as u32);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_between_known_cities() {
        let p = |lat, lon| GeoPoint {
            lat,
            lon,
            precision: Precision::City,
            accuracy_km: None,
        };
        // Amsterdam to New York is about 5,860 km.
        let d = distance_km(&p(52.37, 4.90), &p(40.71, -74.01));
        assert!((5800.0..5920.0).contains(&d), "{d}");
        assert!(distance_km(&p(1.0, 1.0), &p(1.0, 1.0)) < 1e-9);
    }

    #[test]
    fn most_common_exported_value_wins_ties_by_value() {
        use crate::model::Source;
        let mut events = Vec::new();
        for c in ["NL", "DE", "DE", "NL"] {
            let mut e = Event::new(
                chrono::Utc::now(),
                Source::Signin,
                "u".into(),
                "Sign-in".into(),
            );
            e.ip = Some("188.166.14.77".parse().expect("test address"));
            e.country = Some(c.into());
            events.push(e);
        }
        let table = enrich(&events, &GeoIp::embedded(), &NetworkConfig::default());
        let info = table.sorted()[0];
        assert_eq!(info.events, 4);
        assert_eq!(info.country.as_deref(), Some("DE"));
    }
}
