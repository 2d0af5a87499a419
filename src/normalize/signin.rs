//! The fields of an Entra sign-in, filled by each sign-in variant's decoder, and the one place
//! where they become an [`Event`]. Graph JSON, the admin-center downloads, Log Analytics exports
//! and diagnostic-settings records carry the same facts under different names and shapes.

use std::borrow::Cow;

use crate::model::{Event, Source};
use crate::normalize::json;
use crate::normalize::{
    ip, opt, opt_id, push_attr, signin_outcome, text, FieldValue, RowCtx, RowError,
};

/// Sign-in facts as found in one record; `None` where the record lacks them.
#[derive(Default, Debug)]
pub struct SigninFields<'a> {
    /// Nested values that were not valid JSON (`location`, `status`...): named in `parse_error`.
    pub parse_errors: Vec<&'static str>,
    /// (field name as exported, value) of the sign-in time.
    pub time: Option<(&'static str, Cow<'a, str>)>,
    pub upn: Option<Cow<'a, str>>,
    pub sign_in_identifier: Option<Cow<'a, str>>,
    pub service_principal: Option<Cow<'a, str>>,
    pub user_object_id: Option<Cow<'a, str>>,
    pub display_name: Option<Cow<'a, str>>,
    pub user_type: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub session_id: Option<Cow<'a, str>>,
    pub token_id: Option<Cow<'a, str>>,
    pub app: Option<Cow<'a, str>>,
    pub app_id: Option<Cow<'a, str>>,
    pub resource: Option<Cow<'a, str>>,
    pub resource_id: Option<Cow<'a, str>>,
    pub ip: Option<Cow<'a, str>>,
    pub city: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub country: Option<Cow<'a, str>>,
    pub asn: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub failure_reason: Option<Cow<'a, str>>,
    pub status_word: Option<Cow<'a, str>>,
    pub client_app: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub device_id: Option<Cow<'a, str>>,
    pub device_name: Option<Cow<'a, str>>,
    pub browser: Option<Cow<'a, str>>,
    pub os: Option<Cow<'a, str>>,
    pub trust_type: Option<Cow<'a, str>>,
    /// `deviceDetail.isCompliant` (Intune compliance), `true` / `false` as exported.
    pub device_compliant: Option<Cow<'a, str>>,
    pub cross_tenant_access_type: Option<Cow<'a, str>>,
    pub home_tenant_id: Option<Cow<'a, str>>,
    pub resource_tenant_id: Option<Cow<'a, str>>,
    pub auth_requirement: Option<Cow<'a, str>>,
    pub auth_methods: Vec<String>,
    pub auth_protocol: Option<Cow<'a, str>>,
    pub incoming_token_type: Option<Cow<'a, str>>,
    pub transfer_method: Option<Cow<'a, str>>,
    pub risk_level: Option<Cow<'a, str>>,
    pub risk_aggregated: Option<Cow<'a, str>>,
    pub risk_state: Option<Cow<'a, str>>,
    pub risk_event_types: Option<Cow<'a, str>>,
    pub conditional_access: Option<Cow<'a, str>>,
    pub interactive: Option<Cow<'a, str>>,
    pub event_types: Option<Cow<'a, str>>,
    /// Diagnostic-settings `category` or Log Analytics `Type`/`Category`.
    pub category: Option<Cow<'a, str>>,
}

impl<'a> SigninFields<'a> {
    /// Takes one field of a Graph-style (camelCase) or Log Analytics (PascalCase) record.
    /// Returns false for a key it does not use.
    pub fn set(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        json::with_lower(key, |key| self.set_lower(key, v))
    }

    /// [`Self::set`] for a key already in lower case (from [`json::for_each_field_ci`]).
    pub fn set_lower(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        let t = || v.text();
        match key {
            "createddatetime" => self.time = t().map(|s| ("createdDateTime", s)),
            "timegenerated" | "time" if self.time.is_none() => {
                self.time = t().map(|s| ("TimeGenerated", s))
            }
            "userprincipalname" => self.upn = t(),
            "signinidentifier" => self.sign_in_identifier = t(),
            "serviceprincipalname" => self.service_principal = t(),
            "userid" => self.user_object_id = t(),
            "userdisplayname" => self.display_name = t(),
            "usertype" => self.user_type = t(),
            "id" => self.request_id = t(),
            "correlationid" => self.correlation_id = t(),
            "sessionid" => self.session_id = t(),
            "uniquetokenidentifier" => self.token_id = t(),
            "appdisplayname" => self.app = t(),
            "appid" => self.app_id = t(),
            "resourcedisplayname" => self.resource = t(),
            // Log Analytics `ResourceId` is the Azure resource path of the log, not the app
            // (that is `ResourceIdentity`); Graph's `resourceId` is the app.
            "resourceid" | "resourceidentity" => {
                if let Some(id) = t().filter(|id| !id.trim_start().starts_with('/')) {
                    self.resource_id = Some(id);
                }
            }
            "ipaddress" => self.ip = t(),
            "calleripaddress" if self.ip.is_none() => self.ip = t(),
            "autonomoussystemnumber" => self.asn = t(),
            // Graph `location{...}`, Log Analytics `LocationDetails{...}` and its `Location`
            // column (the country code).
            "location" | "locationdetails" => {
                if let Some(obj) = v.object_text() {
                    self.set_location_json(&obj)
                } else if self.country.is_none() {
                    self.country = t().map(owned);
                }
            }
            "status" => {
                if let Some(obj) = v.object_text() {
                    self.set_status_json(&obj)
                }
            }
            "resulttype" if self.error_code.is_none() => self.error_code = t(),
            "resultdescription" if self.failure_reason.is_none() => self.failure_reason = t(),
            "clientappused" => self.client_app = t(),
            "useragent" => self.user_agent = t(),
            "devicedetail" => {
                if let Some(obj) = v.object_text() {
                    self.set_device_json(&obj)
                }
            }
            "authenticationrequirement" => self.auth_requirement = t(),
            "authenticationdetails" => {
                if let Some(list) = v.object_text() {
                    self.set_auth_details_json(&list)
                }
            }
            "mfadetail" => {
                if let Some(obj) = v.object_text() {
                    self.set_mfa_detail_json(&obj)
                }
            }
            "authenticationprotocol" => self.auth_protocol = t(),
            "incomingtokentype" => self.incoming_token_type = t(),
            "originaltransfermethod" => self.transfer_method = t(),
            "risklevelduringsignin" => self.risk_level = t(),
            "risklevelaggregated" => self.risk_aggregated = t(),
            "riskstate" => self.risk_state = t(),
            "riskeventtypes_v2" => self.risk_event_types = v.object_text().or_else(t),
            "conditionalaccessstatus" => self.conditional_access = t(),
            "crosstenantaccesstype" => self.cross_tenant_access_type = t(),
            "hometenantid" => self.home_tenant_id = t(),
            "resourcetenantid" => self.resource_tenant_id = t(),
            "isinteractive" => self.interactive = t(),
            "signineventtypes" => self.event_types = v.object_text().or_else(t),
            "category" | "type" => {
                if self.category.is_none() || key == "category" {
                    self.category = t()
                }
            }
            _ => return false,
        }
        true
    }

    /// `location{city, state, countryOrRegion|country}` (Graph) or `LocationDetails` (Log Analytics).
    pub fn set_location_json(&mut self, obj: &str) {
        let parsed = json::for_each_field_ci(obj, |k, v| match k {
            "city" => self.city = json::text(v).map(owned),
            "state" => self.region = json::text(v).map(owned),
            "countryorregion" | "country" => self.country = json::text(v).map(owned),
            _ => {}
        });
        self.checked("location", &parsed);
    }

    /// `status{errorCode, failureReason}`.
    pub fn set_status_json(&mut self, obj: &str) {
        let parsed = json::for_each_field_ci(obj, |k, v| match k {
            "errorcode" => self.error_code = json::text(v).map(owned),
            "failurereason" => self.failure_reason = json::text(v).map(owned),
            _ => {}
        });
        self.checked("status", &parsed);
    }

    /// `deviceDetail{deviceId, displayName, operatingSystem, browser, trustType, isCompliant}`.
    pub fn set_device_json(&mut self, obj: &str) {
        let parsed = json::for_each_field_ci(obj, |k, v| match k {
            "deviceid" => self.device_id = json::text(v).map(owned),
            "displayname" => self.device_name = json::text(v).map(owned),
            "operatingsystem" => self.os = json::text(v).map(owned),
            "browser" => self.browser = json::text(v).map(owned),
            "trusttype" => self.trust_type = json::text(v).map(owned),
            "iscompliant" => self.device_compliant = json::text(v).map(owned),
            _ => {}
        });
        self.checked("deviceDetail", &parsed);
    }

    /// `authenticationDetails[]{authenticationMethod}`: every distinct method used.
    pub fn set_auth_details_json(&mut self, list: &str) {
        let parsed = json::for_each_element(list, |step| {
            let _ = json::for_each_field_ci(step.get(), |k, v| {
                if k == "authenticationmethod" {
                    if let Some(m) = json::text(v) {
                        self.add_auth_method(&m);
                    }
                }
            });
        });
        self.checked("authenticationDetails", &parsed);
    }

    /// `mfaDetail{authMethod}` (older records).
    pub fn set_mfa_detail_json(&mut self, obj: &str) {
        let parsed = json::for_each_field_ci(obj, |k, v| {
            if k == "authmethod" {
                if let Some(m) = json::text(v) {
                    self.add_auth_method(&m);
                }
            }
        });
        self.checked("mfaDetail", &parsed);
    }

    fn checked(&mut self, field: &'static str, parsed: &Result<(), serde_json::Error>) {
        if parsed.is_err() && !self.parse_errors.contains(&field) {
            self.parse_errors.push(field);
        }
    }

    pub fn add_auth_method(&mut self, method: &str) {
        let m = method.trim();
        if !m.is_empty() && !self.auth_methods.iter().any(|x| x == m) {
            self.auth_methods.push(m.to_string());
        }
    }

    /// Whether the record is a non-interactive sign-in, from whichever field says so.
    fn is_noninteractive(&self) -> bool {
        let flag = |c: &Option<Cow<str>>, needle: &str| {
            c.as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().contains(needle))
        };
        flag(&self.category, "noninteractive")
            || flag(&self.category, "serviceprincipal")
            || flag(&self.category, "managedidentity")
            || flag(&self.event_types, "noninteractive")
            || self
                .interactive
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("false"))
    }

    /// Builds the event. `source` is the variant's default; the record's own fields override it.
    pub fn into_event(self, cx: &mut RowCtx, source: Source) -> Result<Event, RowError> {
        let source = if self.is_noninteractive() {
            Source::Noninteractive
        } else {
            source
        };
        let (field, value) = self
            .time
            .as_ref()
            .ok_or_else(|| RowError::missing("createdDateTime"))?;
        let time = cx.time(field, value)?;
        let user = [&self.upn, &self.sign_in_identifier, &self.service_principal, &self.user_object_id]
            .into_iter()
            .find_map(|v| v.as_deref().and_then(text::present))
            .ok_or_else(|| {
                RowError::field(
                    "userPrincipalName",
                    "no user: userPrincipalName, signInIdentifier, servicePrincipalName and userId are all empty",
                )
            })?;
        let mut e = Event::new(time, source, text::user(user), text::intern_name("Sign-in"));
        let (outcome, code) =
            signin_outcome(self.error_code.as_deref(), self.status_word.as_deref());
        e.outcome = outcome;
        e.error_code = code;
        let s = |v: &Option<Cow<str>>| v.as_deref().and_then(opt);
        let id = |v: &Option<Cow<str>>| v.as_deref().and_then(opt_id);
        if let Some(raw_ip) = self.ip.as_deref().and_then(text::present) {
            e.ip = ip::parse(raw_ip);
            if e.ip.is_none() {
                push_attr(&mut e, "ip_unparsed", raw_ip);
            }
        }
        e.city = s(&self.city);
        e.region = s(&self.region);
        e.country = s(&self.country);
        e.asn = self
            .asn
            .as_deref()
            .and_then(|a| a.trim().trim_start_matches("AS").parse().ok());
        e.user_agent = s(&self.user_agent);
        e.application = s(&self.app).or_else(|| s(&self.app_id));
        e.client_app = s(&self.client_app);
        e.device_id = id(&self.device_id);
        // Sessions repeat across a user's sign-ins: shared text, not a copy per event.
        e.session_id = s(&self.session_id);
        e.correlation_id = id(&self.correlation_id);
        e.request_id = id(&self.request_id);
        e.record_id = e.request_id.clone();
        e.token_id = self
            .token_id
            .as_deref()
            .map(text::strip_formula_guard)
            .and_then(opt_id);
        e.object = s(&self.resource);
        let attrs: [(&str, &Option<Cow<str>>); 24] = [
            ("user_object_id", &self.user_object_id),
            ("display_name", &self.display_name),
            ("user_type", &self.user_type),
            ("app_id", &self.app_id),
            ("resource_id", &self.resource_id),
            ("failure_reason", &self.failure_reason),
            ("browser", &self.browser),
            ("os", &self.os),
            ("device_name", &self.device_name),
            ("trust_type", &self.trust_type),
            ("device_compliant", &self.device_compliant),
            ("cross_tenant_access_type", &self.cross_tenant_access_type),
            ("home_tenant_id", &self.home_tenant_id),
            ("resource_tenant_id", &self.resource_tenant_id),
            ("auth_requirement", &self.auth_requirement),
            ("auth_protocol", &self.auth_protocol),
            ("incoming_token_type", &self.incoming_token_type),
            ("transfer_method", &self.transfer_method),
            ("risk_level", &self.risk_level),
            ("risk_level_aggregated", &self.risk_aggregated),
            ("risk_state", &self.risk_state),
            ("risk_event_types", &self.risk_event_types),
            ("conditional_access", &self.conditional_access),
            ("service_principal", &self.service_principal),
        ];
        for (name, value) in attrs {
            if let Some(v) = value.as_deref() {
                push_attr(&mut e, name, v);
            }
        }
        for m in &self.auth_methods {
            push_attr(&mut e, "auth_method", m);
        }
        if !self.parse_errors.is_empty() {
            cx.note(crate::normalize::Note::NestedJson);
            for field in &self.parse_errors {
                push_attr(&mut e, "parse_error", field);
            }
        }
        Ok(e)
    }
}

fn owned(c: Cow<str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

/// Log Analytics column names (PascalCase, as `set` matches them) for CSV exports, whose
/// headers add ` [UTC]` to datetime columns and `_dynamic` / `_string` to typed columns.
pub const LOG_ANALYTICS_COLUMNS: &[&str] = &[
    "CreatedDateTime",
    "TimeGenerated",
    "UserPrincipalName",
    "SignInIdentifier",
    "ServicePrincipalName",
    "UserId",
    "UserDisplayName",
    "UserType",
    "Id",
    "CorrelationId",
    "SessionId",
    "UniqueTokenIdentifier",
    "AppDisplayName",
    "AppId",
    "ResourceDisplayName",
    "ResourceIdentity",
    "IPAddress",
    "AutonomousSystemNumber",
    "LocationDetails",
    "Location",
    "Status",
    "ResultType",
    "ResultDescription",
    "ClientAppUsed",
    "UserAgent",
    "DeviceDetail",
    "AuthenticationRequirement",
    "AuthenticationDetails",
    "MfaDetail",
    "AuthenticationProtocol",
    "IncomingTokenType",
    "OriginalTransferMethod",
    "RiskLevelDuringSignIn",
    "RiskLevelAggregated",
    "RiskState",
    "RiskEventTypes_V2",
    "ConditionalAccessStatus",
    "IsInteractive",
    "SignInEventTypes",
    "Category",
    "Type",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::DateOrder;

    fn decode(json_text: &str) -> Event {
        let mut f = SigninFields::default();
        json::for_each_field_ci(json_text, |k, v| {
            f.set_lower(k, FieldValue::Json(v));
        })
        .unwrap();
        f.into_event(&mut RowCtx::new(DateOrder::Auto), Source::Signin)
            .unwrap()
    }

    #[test]
    fn device_compliance_and_tenants_are_kept() {
        let e = decode(
            r#"{"createdDateTime":"2025-03-04T05:06:07Z","userPrincipalName":"u@example.test",
            "status":{"errorCode":0},"crossTenantAccessType":"b2bCollaboration",
            "homeTenantId":"h1","resourceTenantId":"r1",
            "deviceDetail":{"deviceId":"","isCompliant":false,"isManaged":false,"trustType":""}}"#,
        );
        assert_eq!(e.attr("device_compliant"), Some("false"));
        assert_eq!(e.attr("cross_tenant_access_type"), Some("b2bCollaboration"));
        assert_eq!(e.attr("home_tenant_id"), Some("h1"));
        assert_eq!(e.attr("resource_tenant_id"), Some("r1"));
        let e = decode(
            r#"{"createdDateTime":"2025-03-04T05:06:07Z","userPrincipalName":"u@example.test",
            "deviceDetail":{"deviceId":"d1"}}"#,
        );
        assert_eq!(e.attr("device_compliant"), None);
    }
}
