//! Entra ID Protection risk data as CSV: Log Analytics `AADUserRiskEvents` / `AADRiskyUsers`
//! "Export to CSV" (` [UTC]` time columns, `Location` and `AdditionalInfo` as JSON text),
//! PowerShell collections of Graph `riskDetection` / `riskyUser` objects saved with
//! `Export-Csv` (PascalCase, `City`, `State`, `CountryOrRegion` columns), and the admin center
//! downloads, whose columns carry the labels the risk reports show (`Detection type`,
//! `Risk state`, ...). See docs/formats.md, "Identity Protection".

use crate::model::Event;
use crate::normalize::columns::{normalize_name, Header, NamedColumns};
use crate::normalize::risk::RiskFields;
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

/// (normalized column name, field key of [`RiskFields::set`]).
const ALIASES: &[(&str, &str)] = &[
    ("id", "id"),
    ("requestid", "requestid"),
    ("request id", "requestid"),
    ("correlationid", "correlationid"),
    ("correlation id", "correlationid"),
    ("riskeventtype", "riskeventtype"),
    ("detection type", "riskeventtype"),
    ("risk event type", "riskeventtype"),
    ("risktype", "risktype"),
    ("riskstate", "riskstate"),
    ("risk state", "riskstate"),
    ("risklevel", "risklevel"),
    ("risk level", "risklevel"),
    ("riskdetail", "riskdetail"),
    ("risk detail", "riskdetail"),
    ("source", "source"),
    ("detectiontimingtype", "detectiontimingtype"),
    ("detection timing", "detectiontimingtype"),
    ("detection timing type", "detectiontimingtype"),
    ("activity", "activity"),
    ("tokenissuertype", "tokenissuertype"),
    ("token issuer type", "tokenissuertype"),
    ("ipaddress", "ipaddress"),
    ("ip address", "ipaddress"),
    ("city", "city"),
    ("state", "state"),
    ("countryorregion", "countryorregion"),
    ("location", "location"),
    ("activitydatetime", "activitydatetime"),
    ("sign-in time", "activitydatetime"),
    ("activity time", "activitydatetime"),
    ("detecteddatetime", "detecteddatetime"),
    ("detection time", "detecteddatetime"),
    ("lastupdateddatetime", "lastupdateddatetime"),
    ("detection last updated", "lastupdateddatetime"),
    ("risklastupdateddatetime", "risklastupdateddatetime"),
    ("risk last updated", "risklastupdateddatetime"),
    ("timegenerated", "timegenerated"),
    ("userprincipalname", "userprincipalname"),
    ("user principal name", "userprincipalname"),
    ("user", "userprincipalname"),
    ("userid", "userid"),
    ("user id", "userid"),
    ("userdisplayname", "userdisplayname"),
    ("isdeleted", "isdeleted"),
    ("isprocessing", "isprocessing"),
    ("additionalinfo", "additionalinfo"),
];

/// Risk detections or risky users exported to CSV.
pub struct RiskCsv {
    columns: NamedColumns,
}

/// Whether a header is a risk export: a risk event type with its timing or level, or a risky
/// user's last-update time with its state.
pub fn is_risk_header(h: &Header) -> bool {
    let has = |names: &[&str]| h.names().iter().any(|n| names.contains(&strip_utc(n)));
    (has(&["riskeventtype", "detection type"])
        && has(&[
            "detectiontimingtype",
            "detection timing",
            "risklevel",
            "risk level",
        ]))
        || (has(&["risklastupdateddatetime", "risk last updated"])
            && has(&["riskstate", "risk state"]))
}

fn strip_utc(name: &str) -> &str {
    name.trim_end_matches(" [utc]")
        .trim_end_matches(" (utc)")
        .trim_end_matches("_dynamic")
        .trim_end_matches("_string")
}

impl RiskCsv {
    pub fn new(h: &Header) -> RiskCsv {
        // Match each column once, after dropping the export's decorations.
        let stripped: Vec<String> = h.names().iter().map(|n| strip_utc(n).to_string()).collect();
        let mut columns = Vec::new();
        for (i, name) in stripped.iter().enumerate() {
            let name = normalize_name(name);
            if let Some((_, key)) = ALIASES.iter().find(|(alias, _)| *alias == name) {
                if !columns.iter().any(|(_, k)| k == key) {
                    columns.push((i, *key));
                }
            }
        }
        RiskCsv {
            columns: NamedColumns::from_pairs(columns),
        }
    }
}

impl Decode for RiskCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = RiskFields::default();
        self.columns.for_each(row, |key, v| {
            f.set(key, FieldValue::Cell(v));
        });
        out.push(f.into_event(cx)?);
        Ok(())
    }
}
