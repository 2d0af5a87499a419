//! Country centres, for distance and speed when only country-level location is known (the
//! embedded database has no coordinates). Distances between centres are rough: a finding
//! built on them says so.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

static TABLE: &str = include_str!("../../data/country_centroids.csv");

static CENTROIDS: LazyLock<FxHashMap<[u8; 2], (f64, f64)>> = LazyLock::new(|| {
    let mut map = FxHashMap::default();
    for line in TABLE.lines().filter(|l| !l.starts_with('#')).skip(1) {
        // country,name,lat,lon: the name may be quoted and hold a comma, so read from the right.
        let mut parts = line.rsplitn(3, ',');
        let (Some(lon), Some(lat), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let code = rest.as_bytes();
        if let (Ok(lat), Ok(lon), true) = (lat.parse(), lon.parse(), code.len() > 2) {
            map.insert([code[0], code[1]], (lat, lon));
        }
    }
    map
});

/// The centre of a country by ISO 3166-1 alpha-2 code, any case.
pub fn centroid(country: &str) -> Option<(f64, f64)> {
    let b = country.as_bytes();
    if b.len() != 2 {
        return None;
    }
    CENTROIDS
        .get(&[b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_has_a_centre() {
        assert!(CENTROIDS.len() >= 240, "{}", CENTROIDS.len());
        let (lat, lon) = centroid("nl").expect("the Netherlands");
        assert!((50.0..54.0).contains(&lat) && (3.0..8.0).contains(&lon));
        assert!(centroid("ZZ").is_none());
        assert!(centroid("NLD").is_none());
    }
}
