//! Whose network an address is on: the curated hosting / VPN / proxy ASN list
//! (`data/hosting_asns.csv`, built in), the investigator's own lists, their corporate egress
//! addresses and their trusted countries.
//!
//! The investigator's config is a small TOML file (`--network-config FILE`):
//!
//! ```toml
//! trusted_countries = ["US", "CA"]                    # the organisation's own countries
//! corporate_egress = ["203.0.113.0/24", "2001:db8:1::/48", "198.51.100.7"]
//! asn_lists = ["our_asns.csv"]                         # same columns as data/hosting_asns.csv,
//!                                                      # relative to this file
//! [[asn]]                                              # or one entry at a time
//! asn = 64500
//! name = "Contoso VPN concentrators"
//! category = "isp"                                     # hosting | vpn | proxy | isp
//! ```
//!
//! Later entries win: the built-in list, then each `asn_lists` file in order, then `[[asn]]`.
//! `category = "isp"` takes an ASN off the hosting / VPN list.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{EnrichError, NetworkKind};
use crate::model::Text;

static BUILTIN: &str = include_str!("../../data/hosting_asns.csv");
const BUILTIN_NAME: &str = "data/hosting_asns.csv (built in)";

/// What an ASN on a list is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderCategory {
    /// VPS, dedicated, colocation, CDN or cloud compute.
    Hosting,
    /// A commercial VPN provider's own network.
    Vpn,
    /// Anonymiser, proxy service, Tor exit operator or bulletproof host.
    Proxy,
    /// Not a hosting or VPN network (lets a user take an ASN off the built-in list).
    Isp,
}

impl ProviderCategory {
    fn parse(s: &str) -> Option<ProviderCategory> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hosting" => Some(ProviderCategory::Hosting),
            "vpn" => Some(ProviderCategory::Vpn),
            "proxy" => Some(ProviderCategory::Proxy),
            "isp" => Some(ProviderCategory::Isp),
            _ => None,
        }
    }

    /// The label an address gets: proxies and anonymisers count as VPN (someone hiding where
    /// they are), not as hosting.
    pub fn network_kind(self) -> NetworkKind {
        match self {
            ProviderCategory::Hosting => NetworkKind::Hosting,
            ProviderCategory::Vpn | ProviderCategory::Proxy => NetworkKind::Vpn,
            ProviderCategory::Isp => NetworkKind::Isp,
        }
    }
}

/// One ASN on a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provider {
    pub name: Text,
    pub category: ProviderCategory,
    /// The list it came from.
    pub list: Text,
}

/// The lists and allow-lists that label networks.
#[derive(Clone, Debug, Default)]
pub struct NetworkConfig {
    providers: FxHashMap<u32, Provider>,
    corporate: Vec<IpNet>,
    trusted_countries: Vec<String>,
    /// Where the lists came from, for the report.
    pub sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    trusted_countries: Vec<String>,
    #[serde(default)]
    corporate_egress: Vec<String>,
    #[serde(default)]
    asn_lists: Vec<String>,
    #[serde(default)]
    asn: Vec<AsnEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsnEntry {
    asn: u32,
    name: String,
    category: ProviderCategory,
}

impl NetworkConfig {
    /// The built-in hosting / VPN / proxy list only.
    pub fn builtin() -> NetworkConfig {
        let mut cfg = NetworkConfig::default();
        cfg.add_list(BUILTIN, BUILTIN_NAME)
            .expect("the built-in ASN list is well formed (checked by tests)");
        cfg
    }

    /// The built-in list plus the investigator's config file.
    pub fn load(path: &Path) -> Result<NetworkConfig, EnrichError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| EnrichError::Config {
            path: shown.clone(),
            reason: format!("cannot read the network config: {e}"),
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| EnrichError::Config {
            path: shown.clone(),
            reason: format!(
                "not a valid network config ({}); expected trusted_countries, corporate_egress, asn_lists and [[asn]] entries",
                e.to_string().trim()
            ),
        })?;
        let mut cfg = NetworkConfig::builtin();
        for list in &file.asn_lists {
            let list_path = path.parent().unwrap_or(Path::new(".")).join(list);
            let shown_list = list_path.display().to_string();
            let text = std::fs::read_to_string(&list_path).map_err(|e| EnrichError::Config {
                path: shown_list.clone(),
                reason: format!("cannot read the ASN list named in {shown}: {e}"),
            })?;
            cfg.add_list(&text, &shown_list)?;
        }
        let inline = Text::from(shown.as_str());
        for entry in file.asn {
            cfg.providers.insert(
                entry.asn,
                Provider {
                    name: Text::from(entry.name),
                    category: entry.category,
                    list: inline.clone(),
                },
            );
        }
        for net in &file.corporate_egress {
            cfg.corporate.push(parse_net(net).ok_or_else(|| EnrichError::Config {
                path: shown.clone(),
                reason: format!(
                    "corporate_egress: expected an IP address or CIDR such as 203.0.113.0/24, found {net:?}"
                ),
            })?);
        }
        for c in &file.trusted_countries {
            let c = c.trim();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(EnrichError::Config {
                    path: shown,
                    reason: format!(
                        "trusted_countries: expected ISO 3166-1 alpha-2 codes such as \"US\", found {c:?}"
                    ),
                });
            }
            cfg.trusted_countries.push(c.to_ascii_uppercase());
        }
        cfg.sources.push(shown);
        Ok(cfg)
    }

    /// Adds a list in the `asn,name,category,note` format; `#` lines are comments.
    pub fn add_list(&mut self, text: &str, name: &str) -> Result<(), EnrichError> {
        let list = Text::from(name);
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .flexible(true)
            .from_reader(text.as_bytes());
        let err = |line: u64, reason: String| EnrichError::List {
            path: name.to_string(),
            line,
            reason,
        };
        let headers = reader
            .headers()
            .map_err(|e| err(1, format!("not a CSV list: {e}")))?
            .clone();
        let col = |want: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(want))
        };
        let (Some(c_asn), Some(c_name), Some(c_cat)) = (col("asn"), col("name"), col("category"))
        else {
            return Err(err(
                1,
                format!(
                    "expected the columns asn,name,category[,note], found {:?}",
                    headers.iter().collect::<Vec<_>>()
                ),
            ));
        };
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                err(line, format!("not a CSV row: {e}"))
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            let asn_text = rec.get(c_asn).unwrap_or_default().trim();
            let asn: u32 = asn_text
                .trim_start_matches(['A', 'S', 'a', 's'])
                .parse()
                .map_err(|_| {
                    err(
                        line,
                        format!("asn: expected a number such as 14061, found {asn_text:?}"),
                    )
                })?;
            let cat_text = rec.get(c_cat).unwrap_or_default();
            let category = ProviderCategory::parse(cat_text).ok_or_else(|| {
                err(
                    line,
                    format!("category: expected hosting, vpn, proxy or isp, found {cat_text:?}"),
                )
            })?;
            self.providers.insert(
                asn,
                Provider {
                    name: Text::from(rec.get(c_name).unwrap_or_default().trim()),
                    category,
                    list: list.clone(),
                },
            );
        }
        self.sources.push(name.to_string());
        Ok(())
    }

    /// The list entry for an ASN.
    pub fn provider(&self, asn: u32) -> Option<&Provider> {
        self.providers.get(&asn)
    }

    /// The network kind of a public address, and the provider name behind it.
    pub fn classify(&self, ip: IpAddr, asn: Option<u32>) -> (NetworkKind, Option<Text>) {
        if self.corporate.iter().any(|n| n.contains(&ip)) {
            return (NetworkKind::Corporate, None);
        }
        match asn {
            None => (NetworkKind::Unknown, None),
            Some(a) => match self.provider(a) {
                Some(p) => (p.category.network_kind(), Some(p.name.clone())),
                None => (NetworkKind::Isp, None),
            },
        }
    }

    pub fn is_trusted_country(&self, country: &str) -> bool {
        self.trusted_countries
            .iter()
            .any(|c| c.eq_ignore_ascii_case(country))
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_labels_hosting_and_vpn() {
        let cfg = NetworkConfig::builtin();
        assert!(cfg.providers.len() >= 150, "{}", cfg.providers.len());
        let ip: IpAddr = "188.166.14.77".parse().expect("test address");
        let (kind, name) = cfg.classify(ip, Some(14061));
        assert_eq!(kind, NetworkKind::Hosting);
        assert_eq!(name.as_deref(), Some("DigitalOcean"));
        assert_eq!(cfg.classify(ip, Some(216025)).0, NetworkKind::Vpn);
        // Deutsche Telekom: an access network.
        assert_eq!(cfg.classify(ip, Some(3320)).0, NetworkKind::Isp);
        assert_eq!(cfg.classify(ip, None).0, NetworkKind::Unknown);
    }

    #[test]
    fn list_errors_name_the_line_and_field() {
        let mut cfg = NetworkConfig::default();
        let err = cfg
            .add_list(
                "asn,name,category\n64500,A,hosting\nAS64501,B,cloudy\n",
                "mine.csv",
            )
            .err()
            .expect("an unknown category is an error");
        let msg = err.to_string();
        assert!(
            msg.contains("mine.csv, line 3") && msg.contains("cloudy"),
            "{msg}"
        );
        let err = cfg
            .add_list("number,who\n1,x\n", "other.csv")
            .err()
            .expect("missing columns are an error");
        assert!(err.to_string().contains("asn,name,category"), "{err}");
    }
}
