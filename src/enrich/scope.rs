//! Which addresses are on the public internet at all. A private, loopback or documentation
//! address has no country or owner to look up, and saying so is better than a guess.

use std::net::IpAddr;
use std::sync::LazyLock;

use ipnet::IpNet;
use serde::Serialize;

/// Where an address sits in the IANA special-purpose registries (RFC 6890 and successors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpScope {
    /// Globally routable: has a country and an owner.
    Public,
    /// RFC 1918 IPv4 and IPv6 unique-local (`fc00::/7`).
    Private,
    /// Carrier-grade NAT shared space (`100.64.0.0/10`, RFC 6598).
    Cgnat,
    Loopback,
    LinkLocal,
    /// Documentation ranges (`192.0.2.0/24`, `2001:db8::/32`, ...): seen in examples, never on the wire.
    Documentation,
    Multicast,
    /// `0.0.0.0` and `::`.
    Unspecified,
    /// Any other special-purpose or unallocated range (`240.0.0.0/4`, benchmarking, IETF protocol space...).
    Reserved,
}

impl IpScope {
    pub fn as_str(self) -> &'static str {
        match self {
            IpScope::Public => "public",
            IpScope::Private => "private",
            IpScope::Cgnat => "cgnat",
            IpScope::Loopback => "loopback",
            IpScope::LinkLocal => "link-local",
            IpScope::Documentation => "documentation",
            IpScope::Multicast => "multicast",
            IpScope::Unspecified => "unspecified",
            IpScope::Reserved => "reserved",
        }
    }

    pub fn is_public(self) -> bool {
        self == IpScope::Public
    }
}

/// Special-purpose ranges, most specific first where they nest.
const SPECIAL: &[(&str, IpScope)] = &[
    ("0.0.0.0/32", IpScope::Unspecified),
    ("0.0.0.0/8", IpScope::Reserved),
    ("10.0.0.0/8", IpScope::Private),
    ("100.64.0.0/10", IpScope::Cgnat),
    ("127.0.0.0/8", IpScope::Loopback),
    ("169.254.0.0/16", IpScope::LinkLocal),
    ("172.16.0.0/12", IpScope::Private),
    ("192.0.0.0/24", IpScope::Reserved),
    ("192.0.2.0/24", IpScope::Documentation),
    ("192.88.99.0/24", IpScope::Reserved),
    ("192.168.0.0/16", IpScope::Private),
    ("198.18.0.0/15", IpScope::Reserved),
    ("198.51.100.0/24", IpScope::Documentation),
    ("203.0.113.0/24", IpScope::Documentation),
    ("224.0.0.0/4", IpScope::Multicast),
    ("240.0.0.0/4", IpScope::Reserved),
    ("::/128", IpScope::Unspecified),
    ("::1/128", IpScope::Loopback),
    ("100::/64", IpScope::Reserved),
    ("2001:db8::/32", IpScope::Documentation),
    ("3fff::/20", IpScope::Documentation),
    ("fc00::/7", IpScope::Private),
    ("fe80::/10", IpScope::LinkLocal),
    ("ff00::/8", IpScope::Multicast),
];

fn special() -> &'static [(IpNet, IpScope)] {
    static PARSED: LazyLock<Vec<(IpNet, IpScope)>> = LazyLock::new(|| {
        SPECIAL
            .iter()
            .map(|(net, scope)| (net.parse().expect("SPECIAL holds valid CIDRs"), *scope))
            .collect()
    });
    &PARSED
}

/// The scope of an address. IPv6 outside global unicast (`2000::/3`) that no entry names is
/// reserved.
pub fn scope_of(ip: IpAddr) -> IpScope {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if let Some((_, scope)) = special().iter().find(|(net, _)| net.contains(&ip)) {
        return *scope;
    }
    match ip {
        IpAddr::V6(v6) if v6.segments()[0] & 0xe000 != 0x2000 => IpScope::Reserved,
        _ => IpScope::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ip: &str) -> IpScope {
        scope_of(ip.parse().expect("test address"))
    }

    #[test]
    fn special_ranges_are_named() {
        assert_eq!(s("10.1.2.3"), IpScope::Private);
        assert_eq!(s("172.31.255.1"), IpScope::Private);
        assert_eq!(s("172.32.0.1"), IpScope::Public);
        assert_eq!(s("192.168.1.1"), IpScope::Private);
        assert_eq!(s("100.64.0.1"), IpScope::Cgnat);
        assert_eq!(s("127.0.0.1"), IpScope::Loopback);
        assert_eq!(s("169.254.10.10"), IpScope::LinkLocal);
        assert_eq!(s("203.0.113.9"), IpScope::Documentation);
        assert_eq!(s("0.0.0.0"), IpScope::Unspecified);
        assert_eq!(s("250.1.1.1"), IpScope::Reserved);
        assert_eq!(s("::1"), IpScope::Loopback);
        assert_eq!(s("fd00::1"), IpScope::Private);
        assert_eq!(s("fe80::1"), IpScope::LinkLocal);
        assert_eq!(s("2001:db8::5"), IpScope::Documentation);
        assert_eq!(s("::ffff:192.168.0.1"), IpScope::Private);
        assert_eq!(s("4000::1"), IpScope::Reserved);
    }

    #[test]
    fn public_addresses_are_public() {
        assert_eq!(s("188.166.14.77"), IpScope::Public);
        assert_eq!(s("8.8.8.8"), IpScope::Public);
        assert_eq!(s("2a03:b0c0:2:d0::1"), IpScope::Public);
    }
}
