//! `breachline enrich IP...`: what breachline knows about an address, the check an
//! investigator makes all day. Uses the same databases and lists as `analyze`.

use std::io::Write;

use clap::Args;
use comfy_table::{presets, Table};
use serde_json::json;

use super::args::GeoArgs;
use super::Cli;
use crate::enrich::{self, Exported, IpInfo, Provenance};
use crate::normalize::ip;
use crate::report;
use crate::report::terminal::safe_cell;

#[derive(Args, Debug)]
pub struct EnrichArgs {
    /// Addresses to look up (IPv4, IPv6, `ip:port`, `[ipv6]:port`).
    #[arg(required = true, value_name = "IP")]
    pub ips: Vec<String>,

    /// Print JSON (one object per address, then the databases) instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub geo: GeoArgs,
}

pub fn run(args: &EnrichArgs, _cli: &Cli) -> anyhow::Result<u8> {
    let (geo, nets) = args.geo.open()?;
    let answers: Vec<(String, Option<IpInfo>)> = args
        .ips
        .iter()
        .map(|text| {
            let info =
                ip::parse(text).map(|ip| enrich::lookup(ip, &Exported::default(), &geo, &nets));
            (text.clone(), info)
        })
        .collect();
    let mut out = report::stdout();
    let written = if args.json {
        let list: Vec<serde_json::Value> = answers
            .iter()
            .map(|(text, info)| match info {
                Some(i) => json!({ "input": text, "malformed": false, "info": i }),
                None => json!({ "input": text, "malformed": true, "info": null }),
            })
            .collect();
        let value = json!({ "addresses": list, "geoip": geo.databases(), "lists": nets.sources });
        serde_json::to_writer_pretty(&mut out, &value)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"))
    } else {
        let dbs = crate::enrich::Enrichment::from_infos(Vec::new(), geo.databases());
        out.write_all(table(&answers).as_bytes())
            .and_then(|_| out.write_all(report::table::databases_line(&dbs).as_bytes()))
    };
    report::ignore_broken_pipe(written.and_then(|_| out.flush()))?;
    let malformed = answers.iter().filter(|(_, i)| i.is_none()).count();
    Ok(if malformed > 0 {
        eprintln!(
            "breachline: {malformed} of {} inputs are not IP addresses",
            answers.len()
        );
        super::exit::ERROR
    } else {
        super::exit::OK
    })
}

fn table(answers: &[(String, Option<IpInfo>)]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED).set_header(vec![
        "ip",
        "scope",
        "country",
        "region / city",
        "coordinates",
        "asn",
        "owner",
        "network",
        "listed as",
        "from",
    ]);
    for (text, info) in answers {
        let Some(i) = info else {
            let mut row = vec![safe_cell(text), safe_cell("malformed: not an IP address")];
            row.extend((0..8).map(|_| safe_cell("")));
            t.add_row(row);
            continue;
        };
        let from = |p: &Option<Provenance>| match p {
            Some(Provenance::Database(n)) => n.to_string(),
            Some(Provenance::Export) => "export".to_string(),
            None => String::new(),
        };
        let coords = i
            .location
            .map(|p| {
                let kind = match p.precision {
                    enrich::Precision::City => "city",
                    enrich::Precision::CountryCentroid => "country centre",
                };
                format!("{:.2}, {:.2} ({kind})", p.lat, p.lon)
            })
            .unwrap_or_default();
        let mut sources = [from(&i.country_from), from(&i.asn_from)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        sources.dedup();
        t.add_row(vec![
            safe_cell(i.ip),
            safe_cell(i.scope.as_str()),
            safe_cell(i.country.as_deref().unwrap_or("")),
            safe_cell(i.region_city()),
            safe_cell(coords),
            safe_cell(i.asn.map(|a| format!("AS{a}")).unwrap_or_default()),
            safe_cell(i.as_org.as_deref().unwrap_or("")),
            safe_cell(i.network.as_str()),
            safe_cell(i.provider.as_deref().unwrap_or("")),
            safe_cell(sources.join(", ")),
        ]);
    }
    format!("{t}\n")
}
