//! Entra ID Protection risk data: risk detections (Microsoft Graph `riskDetection`, Log
//! Analytics `AADUserRiskEvents`, diagnostic category `UserRiskEvents`) and risky-user states
//! (Graph `riskyUser`, `AADRiskyUsers`, category `RiskyUsers`), as JSON. The fields, and the one
//! place where they become an [`Event`]; the CSV exports fill the same fields
//! (`risk_csv.rs`). See docs/formats.md, "Identity Protection".

use std::borrow::Cow;

use crate::model::{Event, Source};
use crate::normalize::json;
use crate::normalize::json_fields;
use crate::normalize::{
    ip, opt, opt_id, push_attr, push_prefixed_attr, text, FieldValue, Record, RowCtx, RowError,
};

/// Operation of a risk detection event.
pub const DETECTION: &str = "Risk detection";
/// Operation of a risky-user state event.
pub const RISKY_USER: &str = "Risky user";

/// Facts of one risk record; `None` where absent.
#[derive(Default, Debug)]
pub struct RiskFields<'a> {
    pub id: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub event_type: Option<Cow<'a, str>>,
    /// The legacy `riskType` (can say `generic` where `riskEventType` is precise).
    pub legacy_type: Option<Cow<'a, str>>,
    pub state: Option<Cow<'a, str>>,
    pub level: Option<Cow<'a, str>>,
    pub detail: Option<Cow<'a, str>>,
    pub source: Option<Cow<'a, str>>,
    pub timing: Option<Cow<'a, str>>,
    pub activity: Option<Cow<'a, str>>,
    pub token_issuer: Option<Cow<'a, str>>,
    pub ip: Option<Cow<'a, str>>,
    pub city: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub country: Option<Cow<'a, str>>,
    pub activity_time: Option<Cow<'a, str>>,
    pub detected_time: Option<Cow<'a, str>>,
    pub last_updated: Option<Cow<'a, str>>,
    pub risk_last_updated: Option<Cow<'a, str>>,
    pub time_generated: Option<Cow<'a, str>>,
    pub upn: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub user_name: Option<Cow<'a, str>>,
    pub is_deleted: Option<Cow<'a, str>>,
    pub is_processing: Option<Cow<'a, str>>,
    pub additional_info: Option<Cow<'a, str>>,
    /// Nested values that did not parse, by field name.
    pub unparsed: Vec<&'static str>,
}

impl<'a> RiskFields<'a> {
    /// Takes one field by its lower-cased name. Returns false for a key it does not use.
    pub fn set(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        let t = || v.text();
        match key {
            "id" => self.id = t(),
            "requestid" => self.request_id = t(),
            "correlationid" => self.correlation_id = t(),
            "riskeventtype" => self.event_type = t(),
            "risktype" => self.legacy_type = t(),
            "riskstate" => self.state = t(),
            "risklevel" => self.level = t(),
            "riskdetail" => self.detail = t(),
            "source" => self.source = t(),
            "detectiontimingtype" => self.timing = t(),
            "activity" => self.activity = t(),
            "tokenissuertype" => self.token_issuer = t(),
            "ipaddress" => self.ip = t(),
            "city" => self.city = t(),
            "state" => self.region = t(),
            "countryorregion" => self.country = t(),
            "location" => match v.object_text() {
                Some(obj) => self.location(&obj),
                None => return false,
            },
            "activitydatetime" => self.activity_time = t(),
            "detecteddatetime" => self.detected_time = t(),
            "lastupdateddatetime" => self.last_updated = t(),
            "risklastupdateddatetime" => self.risk_last_updated = t(),
            "timegenerated" => self.time_generated = t(),
            "userprincipalname" => self.upn = t(),
            "userid" => self.user_id = t(),
            "userdisplayname" => self.user_name = t(),
            "isdeleted" => self.is_deleted = t(),
            "isprocessing" => self.is_processing = t(),
            "additionalinfo" => self.additional_info = v.object_text(),
            _ => return false,
        }
        true
    }

    fn location(&mut self, obj: &str) {
        let (mut city, mut region, mut country) = (None, None, None);
        let ok = json::for_each_field_ci(obj, |k, v| {
            let t = || json::text(v).map(|s| Cow::Owned(s.into_owned()));
            match k {
                "city" => city = t(),
                "state" => region = t(),
                "countryorregion" => country = t(),
                _ => {}
            }
        });
        if ok.is_err() {
            self.unparsed.push("location");
        }
        self.city = self.city.take().or(city);
        self.region = self.region.take().or(region);
        self.country = self.country.take().or(country);
    }

    /// Builds the event: a detection when the record names a risk event type, else a
    /// risky-user state.
    pub fn into_event(self, cx: &mut RowCtx) -> Result<Event, RowError> {
        let detection = self.event_type.is_some() || self.legacy_type.is_some();
        let (field, when) = if detection {
            [
                ("activityDateTime", &self.activity_time),
                ("detectedDateTime", &self.detected_time),
                ("lastUpdatedDateTime", &self.last_updated),
                ("TimeGenerated", &self.time_generated),
            ]
        } else {
            [
                ("riskLastUpdatedDateTime", &self.risk_last_updated),
                ("TimeGenerated", &self.time_generated),
                ("lastUpdatedDateTime", &self.last_updated),
                ("activityDateTime", &self.activity_time),
            ]
        }
        .into_iter()
        .find_map(|(f, v)| v.as_deref().and_then(text::present).map(|v| (f, v)))
        .ok_or_else(|| {
            RowError::missing(if detection {
                "activityDateTime"
            } else {
                "riskLastUpdatedDateTime"
            })
        })?;
        let time = cx.time(field, when)?;
        let user = present(&self.upn)
            .or(present(&self.user_id))
            .ok_or_else(|| RowError::missing("userPrincipalName"))?;
        let operation = if detection { DETECTION } else { RISKY_USER };
        let mut e = Event::new(
            time,
            Source::Risk,
            text::user(user),
            text::intern(operation),
        );
        if let Some(raw) = present(&self.ip) {
            match ip::parse(raw) {
                Some(addr) => e.ip = Some(addr),
                None => push_attr(&mut e, "ip_unparsed", raw),
            }
        }
        e.city = present(&self.city).and_then(opt);
        e.region = present(&self.region).and_then(opt);
        e.country = present(&self.country).and_then(opt);
        e.record_id = present(&self.id).and_then(opt_id);
        e.request_id = present(&self.request_id).and_then(opt_id);
        e.correlation_id = present(&self.correlation_id).and_then(opt_id);
        let event_type = present(&self.event_type).or(present(&self.legacy_type));
        e.object = if detection {
            event_type.and_then(opt)
        } else {
            present(&self.state).and_then(opt)
        };
        for (name, value) in [
            ("risk_event_type", event_type),
            ("risk_level", present(&self.level)),
            ("risk_state", present(&self.state)),
            ("risk_detail", present(&self.detail)),
            ("risk_source", present(&self.source)),
            ("detection_timing", present(&self.timing)),
            ("risk_activity", present(&self.activity)),
            ("token_issuer_type", present(&self.token_issuer)),
            ("detected_time", present(&self.detected_time)),
            ("is_deleted", present(&self.is_deleted)),
            ("is_processing", present(&self.is_processing)),
            ("user_display_name", present(&self.user_name)),
        ] {
            if let Some(v) = value {
                push_attr(&mut e, name, v);
            }
        }
        // A detection is updated in place (its state changes); when it was last updated tells
        // one version from the next, whatever the export writes of its state.
        if detection {
            if let Some(t) =
                present(&self.last_updated).and_then(|v| crate::normalize::time::parse(v, cx.order))
            {
                let t = match t.0 {
                    crate::normalize::time::Parsed::Exact(t) => t,
                    crate::normalize::time::Parsed::Ambiguous { mdy, .. } => mdy,
                };
                push_attr(&mut e, "last_updated", &crate::normalize::time::format(&t));
            }
        }
        if let Some(info) = present(&self.additional_info) {
            // `[{"Key": ..., "Value": ...}]` as a string (Graph) or a dynamic column.
            let mut pairs = Vec::new();
            let ok = json::for_each_element(info, |item| {
                let (mut k, mut val) = (None, None);
                let _ = json::for_each_field_ci(item.get(), |key, v| match key {
                    "key" => k = json::text(v).map(Cow::into_owned),
                    "value" => {
                        val = json::text(v)
                            .or_else(|| json::object_text(v))
                            .map(Cow::into_owned)
                    }
                    _ => {}
                });
                if let (Some(k), Some(v)) = (k, val) {
                    pairs.push((k, v));
                }
            });
            if ok.is_err() {
                push_attr(&mut e, "parse_error", "additionalInfo");
            }
            for (k, v) in pairs {
                if k.eq_ignore_ascii_case("userAgent") && e.user_agent.is_none() {
                    e.user_agent = opt(&v);
                }
                push_prefixed_attr(&mut e, "detail.", &k, &v, true);
            }
        }
        for field in &self.unparsed {
            push_attr(&mut e, "parse_error", field);
        }
        Ok(e)
    }
}

/// Graph, admin center and Log Analytics risk objects, any key case.
pub struct RiskJson;

impl crate::normalize::Decode for RiskJson {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        let mut f = RiskFields::default();
        json_fields(text, "risk record", |k, v| {
            f.set(k, v);
        })?;
        out.push(f.into_event(cx)?);
        Ok(())
    }
}

/// Diagnostic-settings records of category `UserRiskEvents` or `RiskyUsers`: the risk record is
/// in `properties`; `time` and `callerIpAddress` stand in where it lacks them.
pub struct RiskDiagnostic;

impl crate::normalize::Decode for RiskDiagnostic {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let d = json::Diagnostic::parse(record.json()?)?;
        let mut f = RiskFields::default();
        json_fields(d.properties.get(), "properties", |k, v| {
            f.set(k, v);
        })?;
        f.time_generated = f.time_generated.or(d.time);
        f.ip = f.ip.or(d.caller_ip);
        out.push(f.into_event(cx)?);
        Ok(())
    }
}

/// The value, trimmed, unless absent, empty or a placeholder.
fn present<'b>(v: &'b Option<Cow<'_, str>>) -> Option<&'b str> {
    v.as_deref().and_then(text::present)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::DateOrder;
    use crate::normalize::Decode;

    fn decode(d: &dyn Decode, text: &str) -> Event {
        let mut out = Vec::new();
        d.decode(
            Record::Json(text),
            &mut RowCtx::new(DateOrder::Auto),
            &mut out,
        )
        .unwrap();
        out.remove(0)
    }

    #[test]
    fn a_graph_detection_keeps_type_level_state_and_additional_info() {
        let e = decode(
            &RiskJson,
            r#"{"id":"d1","requestId":"r1","riskEventType":"anonymizedIPAddress","riskState":"atRisk",
            "riskLevel":"medium","riskDetail":"none","source":"IdentityProtection","detectionTimingType":"realtime",
            "activity":"signin","ipAddress":"198.51.100.7","location":{"city":"Oslo","countryOrRegion":"NO"},
            "activityDateTime":"2024-05-13T14:19:37.234Z","detectedDateTime":"2024-05-13T14:19:40Z",
            "userPrincipalName":"Alice@Example.test",
            "additionalInfo":"[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0\"}]"}"#,
        );
        assert_eq!(e.source, Source::Risk);
        assert_eq!(&*e.operation, DETECTION);
        assert_eq!(&*e.user, "alice@example.test");
        assert_eq!(e.object.as_deref(), Some("anonymizedIPAddress"));
        assert_eq!(e.attr("risk_level"), Some("medium"));
        assert_eq!(e.country.as_deref(), Some("NO"));
        assert_eq!(e.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(e.request_id.as_deref(), Some("r1"));
        assert_eq!(
            crate::normalize::time::format(&e.time),
            "2024-05-13T14:19:37.234Z"
        );
    }

    #[test]
    fn a_diagnostic_risky_user_is_a_state_event() {
        let e = decode(
            &RiskDiagnostic,
            r#"{"time":"3/24/2022 2:42:35 PM","category":"RiskyUsers","operationName":"Risky user",
            "properties":{"id":"u1","isDeleted":false,"isProcessing":false,"riskDetail":"adminDismissedAllRiskForUser",
            "riskLastUpdatedDateTime":"2022-03-24T14:40:04.234Z","riskLevel":"none","riskState":"dismissed",
            "userPrincipalName":"bob@example.test"}}"#,
        );
        assert_eq!(&*e.operation, RISKY_USER);
        assert_eq!(e.attr("risk_state"), Some("dismissed"));
        assert_eq!(e.object.as_deref(), Some("dismissed"));
        assert_eq!(e.attr("is_deleted"), Some("false"));
    }
}
