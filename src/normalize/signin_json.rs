//! Entra sign-ins as JSON: Microsoft Graph `signIns` objects (arrays, `{"value":[...]}` pages,
//! JSON lines, Microsoft-Extractor-Suite output), the admin-center JSON download, Log Analytics
//! `SigninLogs` / `AADNonInteractiveUserSignInLogs` JSON, and Azure Monitor diagnostic-settings
//! records (`category`, `properties{...}`).

use crate::model::{Event, Source};
use crate::normalize::json;
use crate::normalize::json_fields;
use crate::normalize::signin::SigninFields;
use crate::normalize::{Decode, FieldValue, Record, RowCtx, RowError};

/// Graph-shaped (camelCase) or Log Analytics (PascalCase) sign-in objects.
pub struct SigninJson {
    pub source: Source,
}

impl Decode for SigninJson {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        let mut f = SigninFields::default();
        json_fields(text, "sign-in record", |k, v| {
            f.set_lower(k, v);
        })?;
        out.push(f.into_event(cx, self.source)?);
        Ok(())
    }
}

/// Azure Monitor diagnostic-settings records: the sign-in is in `properties`; `category` says
/// interactive or not; `time` and `callerIpAddress` stand in where `properties` lacks them.
pub struct SigninDiagnostic;

impl Decode for SigninDiagnostic {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        let mut properties = None;
        let mut outer = SigninFields::default();
        json::for_each_field_ci(text, |k, v| match k {
            "properties" => properties = Some(v),
            "time" | "category" | "calleripaddress" | "correlationid" | "resulttype" => {
                outer.set(k, FieldValue::Json(v));
            }
            _ => {}
        })
        .map_err(|e| RowError::json("diagnostic record", &e))?;
        let properties = properties.ok_or_else(|| RowError::missing("properties"))?;
        let mut f = SigninFields::default();
        json_fields(properties.get(), "properties", |k, v| {
            f.set_lower(k, v);
        })?;
        f.category = outer.category.or(f.category);
        f.time = f.time.or(outer.time);
        f.ip = f.ip.or(outer.ip);
        f.correlation_id = f.correlation_id.or(outer.correlation_id);
        // The outcome may be only in the envelope's `resultType` (`0` or an error code).
        f.error_code = f.error_code.or(outer.error_code);
        out.push(f.into_event(cx, Source::Signin)?);
        Ok(())
    }
}
