//! GeoIP lookup throughput: distinct addresses enriched per second with the embedded databases
//! (country + ASN + hosting list + country centre), in parallel on every core.
//!
//!     cargo run --release --example bench-geoip -- [ADDRESSES] [RUNS]    # default 2000000, 5
//!
//! The addresses are random public IPv4 (90%) and IPv6 (10%) from a fixed seed, so every run
//! asks the same questions. Prints each run and the median.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use breachline::enrich::{self, Exported, GeoIp, NetworkConfig};
use rayon::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut rng = fastrand::Rng::with_seed(20261201);
    let ips: Vec<IpAddr> = (0..n)
        .map(|i| {
            if i % 10 == 9 {
                // Global unicast IPv6 in 2a00::/12 (RIPE space, densely allocated).
                let hi = 0x2a00_0000_0000_0000u64 | (rng.u64(..) >> 12);
                IpAddr::V6(Ipv6Addr::from(
                    (u128::from(hi) << 64) | u128::from(rng.u64(..)),
                ))
            } else {
                loop {
                    let v4 = Ipv4Addr::from(rng.u32(..));
                    if enrich::scope_of(IpAddr::V4(v4)).is_public() {
                        break IpAddr::V4(v4);
                    }
                }
            }
        })
        .collect();
    let geo = GeoIp::embedded();
    let nets = NetworkConfig::builtin();
    let none = Exported::default();
    let threads = rayon::current_num_threads();
    let mut rates = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let with_country = ips
            .par_iter()
            .map(|ip| enrich::lookup(*ip, &none, &geo, &nets))
            .filter(|i| i.country.is_some())
            .count();
        let secs = started.elapsed().as_secs_f64();
        let rate = n as f64 / secs;
        println!(
            "run {run}: {n} lookups in {secs:.3} s = {:.2} M lookups/s on {threads} threads ({with_country} with a country)",
            rate / 1e6
        );
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("median: {:.2} M lookups/s", rates[rates.len() / 2] / 1e6);
}
