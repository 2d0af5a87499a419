//! Client IP normalization: the exports write the same address as `1.2.3.4`, `1.2.3.4:50412`,
//! `[2001:db8::1]:443`, `::ffff:1.2.3.4` or with an IPv6 zone; all become one `IpAddr`.

use std::net::{IpAddr, Ipv6Addr};

/// Parses an IP as any export writes it. `None` for empty text or text that is not an address.
pub fn parse(text: &str) -> Option<IpAddr> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let s = if let Some(rest) = s.strip_prefix('[') {
        // `[v6]` or `[v6]:port`
        rest.split(']').next()?
    } else if s.matches(':').count() == 1 {
        // `v4:port`
        s.split(':').next()?
    } else {
        s
    };
    let s = s.split('%').next()?; // IPv6 zone id
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => mapped_v4(v6).map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

fn mapped_v4(v6: Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let seg = v6.segments();
    if seg[..5] == [0, 0, 0, 0, 0] && seg[5] == 0xffff {
        v6.to_ipv4_mapped()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_form_becomes_one_address() {
        let cases = [
            ("203.0.113.10", "203.0.113.10"),
            (" 198.51.100.77:50412 ", "198.51.100.77"),
            (
                "[2001:db8:85a3::8a2e:370:7334]:36185",
                "2001:db8:85a3::8a2e:370:7334",
            ),
            ("[2001:db8::1]", "2001:db8::1"),
            (
                "2001:db8:85a3::8a2e:370:7334",
                "2001:db8:85a3::8a2e:370:7334",
            ),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            ("::1", "::1"),
            ("fe80::1%eth0", "fe80::1"),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input).map(|i| i.to_string()).as_deref(),
                Some(want),
                "{input}"
            );
        }
    }

    #[test]
    fn non_addresses_are_none() {
        for s in [
            "",
            "null",
            "Not Available",
            "300.1.1.1",
            "1.2.3",
            "host.example:80",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
