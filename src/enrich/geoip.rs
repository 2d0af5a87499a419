//! MaxMind-format databases: the embedded defaults and the investigator's own files.
//!
//! Databases are asked in order: the investigator's city database, then their ASN database,
//! then the embedded country and ASN databases. Location fields (country, region, city,
//! coordinates) come together from the first database that knows the country; ASN and owner
//! from the first that knows the ASN. Records are read by field name, so GeoLite2 / GeoIP2
//! City, Country and ASN, DB-IP, IPinfo and the ip-location-db files all work.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EnrichError, GeoPoint, Precision};
use crate::model::Text;

static EMBEDDED_COUNTRY: &[u8] = include_bytes!("../../data/geoip/country.mmdb");
static EMBEDDED_ASN: &[u8] = include_bytes!("../../data/geoip/asn.mmdb");

/// Which databases to use besides the embedded ones.
#[derive(Clone, Debug, Default)]
pub struct GeoIpOptions {
    /// A city (or country) database: GeoLite2 / GeoIP2 City, DB-IP City, IPinfo.
    pub city: Option<PathBuf>,
    /// An ASN database: GeoLite2 / GeoIP2 ASN, IPinfo ASN.
    pub asn: Option<PathBuf>,
}

/// A database that was consulted, for the report: findings depend on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    /// What it was asked for: `city`, `asn`, `country` (embedded) or `asn` (embedded).
    pub role: &'static str,
    /// The short name findings cite (`GeoLite2-City.mmdb`, `embedded country`).
    pub name: Text,
    /// The file it was read from, or `embedded`.
    pub source: String,
    /// The database's own type name from its metadata.
    pub database_type: String,
    /// When the data was built (metadata `build_epoch`), ISO 8601 UTC.
    pub build_date: String,
    pub description: Option<String>,
    pub sha256: String,
    /// Licence and attribution, for the embedded databases.
    pub licence: Option<&'static str>,
}

/// What one address's lookup found, before the export's own values are weighed in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Country code and the database that gave it.
    pub country: Option<(Text, Text)>,
    pub region: Option<Text>,
    pub city: Option<Text>,
    pub location: Option<GeoPoint>,
    /// ASN, organisation, and the database that gave them.
    pub asn: Option<(u32, Option<Text>, Text)>,
}

struct Database {
    reader: Reader<Cow<'static, [u8]>>,
    info: DatabaseInfo,
}

/// The databases to ask, in order.
pub struct GeoIp {
    databases: Vec<Database>,
}

impl GeoIp {
    /// Only the embedded country and ASN databases.
    pub fn embedded() -> GeoIp {
        let mut databases = Vec::new();
        for (role, bytes, licence) in [
            ("country", EMBEDDED_COUNTRY, EMBEDDED_COUNTRY_LICENCE),
            ("asn", EMBEDDED_ASN, EMBEDDED_ASN_LICENCE),
        ] {
            let db = Database::open(
                Cow::Borrowed(bytes),
                role,
                "embedded",
                format!("embedded {role}"),
            )
            .expect("the embedded databases are valid MaxMind DB files (checked by tests)");
            databases.push(Database {
                info: DatabaseInfo {
                    licence: Some(licence),
                    ..db.info
                },
                ..db
            });
        }
        GeoIp { databases }
    }

    /// The investigator's databases first, then the embedded ones.
    pub fn open(opts: &GeoIpOptions) -> Result<GeoIp, EnrichError> {
        let mut databases = Vec::new();
        for (role, path) in [("city", &opts.city), ("asn", &opts.asn)] {
            if let Some(path) = path {
                databases.push(Database::open_file(path, role)?);
            }
        }
        databases.extend(GeoIp::embedded().databases);
        Ok(GeoIp { databases })
    }

    /// The databases, in the order they are asked.
    pub fn databases(&self) -> Vec<DatabaseInfo> {
        self.databases.iter().map(|d| d.info.clone()).collect()
    }

    /// Asks each database in turn until location and ASN are both known. A record a
    /// database cannot decode counts as no answer from it.
    pub fn lookup(&self, ip: IpAddr) -> Found {
        let mut found = Found::default();
        for db in &self.databases {
            if found.country.is_some() && found.asn.is_some() {
                break;
            }
            let Ok(result) = db.reader.lookup(ip) else {
                continue;
            };
            let Ok(Some(rec)) = result.decode::<Record>() else {
                continue;
            };
            if found.country.is_none() {
                if let Some(cc) = rec.country_code() {
                    found.country =
                        Some((Text::from(cc.to_ascii_uppercase()), db.info.name.clone()));
                    found.region = rec.region().map(Text::from);
                    found.city = rec.city.as_ref().and_then(|c| c.name()).map(Text::from);
                    found.location = rec.point();
                }
            }
            if found.asn.is_none() {
                if let Some(asn) = rec.asn() {
                    let org = rec
                        .autonomous_system_organization
                        .or(rec.as_name)
                        .map(Text::from);
                    found.asn = Some((asn, org, db.info.name.clone()));
                }
            }
        }
        found
    }
}

const EMBEDDED_COUNTRY_LICENCE: &str = "geo-whois-asn-country from @ip-location-db/geo-whois-asn-country-mmdb (GeoFeed + Whois + ASN, NRO statistics), released under CC0-1.0; see data/LICENSES.md";
const EMBEDDED_ASN_LICENCE: &str = "ASN data from @ip-location-db/asn (RouteViews, NRO, DB-IP), CC-BY-4.0: IP to ASN data by RouteViews (routeviews.org), NRO (nro.net) and DB-IP (db-ip.com); see data/LICENSES.md";

impl Database {
    fn open_file(path: &Path, role: &'static str) -> Result<Database, EnrichError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| EnrichError::Database {
            path: shown.clone(),
            role,
            reason: e.to_string(),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone());
        Database::open(Cow::Owned(bytes), role, &shown, name)
    }

    fn open(
        bytes: Cow<'static, [u8]>,
        role: &'static str,
        source: &str,
        name: String,
    ) -> Result<Database, EnrichError> {
        let sha256 = hex(&Sha256::digest(&bytes));
        let reader = Reader::from_source(bytes).map_err(|e| EnrichError::Database {
            path: source.to_string(),
            role,
            reason: format!("not a MaxMind DB (.mmdb) file: {e}"),
        })?;
        let meta = reader.metadata();
        let build_date = i64::try_from(meta.build_epoch)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| format!("epoch {}", meta.build_epoch));
        let info = DatabaseInfo {
            role,
            name: Text::from(name),
            source: source.to_string(),
            database_type: meta.database_type.clone(),
            build_date,
            description: meta.description.get("en").cloned(),
            sha256,
            licence: None,
        };
        Ok(Database { reader, info })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The fields breachline reads, under the names the common database families use. Unknown
/// fields are skipped without being decoded.
#[derive(Deserialize, Default)]
struct Record<'a> {
    /// GeoIP2: `{iso_code, names}`; IPinfo: a code (`US`) or, in IPinfo Lite, a name.
    #[serde(borrow, default)]
    country: Option<Place<'a>>,
    /// ip-location-db and IPinfo Lite.
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    city: Option<Place<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Place<'a>>>,
    #[serde(borrow, default)]
    region: Option<&'a str>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    latitude: Option<Num>,
    #[serde(default)]
    longitude: Option<Num>,
    #[serde(default)]
    autonomous_system_number: Option<Num>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    /// IPinfo: `AS15169`.
    #[serde(default)]
    asn: Option<AsnField>,
    #[serde(borrow, default)]
    as_name: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn country_code(&self) -> Option<&'a str> {
        let from_country = self.country.as_ref().and_then(|c| match c {
            Place::Named { iso_code, .. } => *iso_code,
            Place::Text(t) => Some(*t),
        });
        self.country_code
            .or(from_country)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
    }

    fn region(&self) -> Option<&'a str> {
        self.subdivisions
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|p| p.name())
            .or(self.region)
    }

    fn point(&self) -> Option<GeoPoint> {
        let (lat, lon, acc) = match &self.location {
            Some(l) => (
                l.latitude.as_ref()?.0,
                l.longitude.as_ref()?.0,
                l.accuracy_radius
                    .as_ref()
                    .and_then(Num::as_u32)
                    .and_then(|a| u16::try_from(a).ok()),
            ),
            None => (self.latitude.as_ref()?.0, self.longitude.as_ref()?.0, None),
        };
        let valid = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
        valid.then_some(GeoPoint {
            lat,
            lon,
            precision: Precision::City,
            accuracy_km: acc,
        })
    }

    fn asn(&self) -> Option<u32> {
        self.autonomous_system_number
            .as_ref()
            .and_then(Num::as_u32)
            .or(self.asn.as_ref().and_then(|a| a.0))
            .filter(|a| *a != 0)
    }
}

#[derive(Deserialize, Default)]
struct Location {
    latitude: Option<Num>,
    longitude: Option<Num>,
    accuracy_radius: Option<Num>,
}

/// A number stored as any MMDB numeric type (the decoder is strict about uint16 versus
/// uint32 versus double, and writers differ), or as text (IPinfo writes coordinates as strings).
struct Num(f64);

impl Num {
    fn as_u32(&self) -> Option<u32> {
        (self.0 >= 0.0 && self.0 <= f64::from(u32::MAX) && self.0.fract() == 0.0)
            .then_some(self.0 as u32)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumVisitor;
        impl Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim()
                    .parse()
                    .map(Num)
                    .map_err(|_| E::custom("not a number"))
            }
        }
        d.deserialize_any(NumVisitor)
    }
}

/// A place as GeoIP2 writes it (`{iso_code, names: {en}}`) or as a flat string.
enum Place<'a> {
    Named {
        iso_code: Option<&'a str>,
        english: Option<&'a str>,
    },
    Text(&'a str),
}

impl<'a> Place<'a> {
    fn name(&self) -> Option<&'a str> {
        match self {
            Place::Named { english, .. } => *english,
            Place::Text(t) => Some(*t),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Place<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PlaceVisitor;
        impl<'de> Visitor<'de> for PlaceVisitor {
            type Value = Place<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a place name or a map with iso_code and names")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Place::Text(v))
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let (mut iso_code, mut english) = (None, None);
                while let Some(key) = m.next_key::<&'de str>()? {
                    match key {
                        "iso_code" => iso_code = Some(m.next_value::<&'de str>()?),
                        "names" => english = m.next_value::<Names<'de>>()?.en,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Place::Named { iso_code, english })
            }
        }
        d.deserialize_any(PlaceVisitor)
    }
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

/// An ASN as a number or as IPinfo's `AS15169` text.
struct AsnField(Option<u32>);

impl<'de> Deserialize<'de> for AsnField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AsnVisitor;
        impl Visitor<'_> for AsnVisitor {
            type Value = AsnField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AS number or text like AS15169")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(AsnField(u32::try_from(v).ok()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let digits = v.trim().trim_start_matches(['A', 'S', 'a', 's']);
                Ok(AsnField(digits.parse().ok()))
            }
        }
        d.deserialize_any(AsnVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_databases_open_and_answer() {
        let geo = GeoIp::embedded();
        let dbs = geo.databases();
        assert_eq!(dbs.len(), 2);
        assert!(dbs
            .iter()
            .all(|d| d.licence.is_some() && d.build_date.starts_with("20")));
        // DigitalOcean, Amsterdam (the demo's phishing proxy).
        let f = geo.lookup("188.166.14.77".parse().expect("test address"));
        assert_eq!(f.country.as_ref().map(|c| &*c.0), Some("NL"));
        assert_eq!(f.asn.as_ref().map(|a| a.0), Some(14061));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("breachline-geoip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let bad = dir.join("GeoLite2-City.mmdb");
        std::fs::write(&bad, b"this is not a database").expect("write");
        let err = GeoIp::open(&GeoIpOptions {
            city: Some(bad.clone()),
            asn: None,
        })
        .err()
        .expect("a corrupt file is an error");
        let msg = err.to_string();
        assert!(
            msg.contains("GeoLite2-City.mmdb") && msg.contains("city database"),
            "{msg}"
        );
        let missing = GeoIp::open(&GeoIpOptions {
            city: None,
            asn: Some(dir.join("nope.mmdb")),
        })
        .err()
        .expect("a missing file is an error");
        assert!(missing.to_string().contains("nope.mmdb"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
