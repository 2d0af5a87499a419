//! Entra ID audit log records (directory audits): the fields every variant carries, and the
//! one place where they become an [`Event`]. Microsoft Graph `directoryAudit` objects, the admin
//! center JSON and CSV downloads, Log Analytics `AuditLogs` exports and Azure Monitor
//! diagnostic records carry the same facts under different names and shapes
//! (docs/formats.md, "Entra ID audit log"; Microsoft Graph "directoryAudit resource type").
//!
//! One record becomes one event whose `user` is the initiator (a user's UPN, else the app's
//! name, else `system`) and whose `attr.target` lists every account the change was made to, so
//! the event lands in the initiator's and each target's timeline.

use std::borrow::Cow;

use crate::model::{Event, Outcome, Source};
use crate::normalize::json::{self, Raw};
use crate::normalize::{ip, opt, opt_id, push_attr, text, FieldValue, RowCtx, RowError};

/// Who started the change.
#[derive(Default, Debug)]
pub struct Initiator<'a> {
    pub upn: Option<Cow<'a, str>>,
    pub user_name: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub ip: Option<Cow<'a, str>>,
    pub app_name: Option<Cow<'a, str>>,
    pub app_id: Option<Cow<'a, str>>,
    pub service_principal_name: Option<Cow<'a, str>>,
    /// The admin center CSV's `ActorType` (`User`, `Application`).
    pub kind: Option<Cow<'a, str>>,
}

/// One changed property of a target: name, old value, new value, as exported (JSON text).
pub type Modified<'a> = (Cow<'a, str>, Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// What the change was made to.
#[derive(Default, Debug)]
pub struct Target<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub upn: Option<Cow<'a, str>>,
    pub modified: Vec<Modified<'a>>,
}

/// Facts of one directory audit record; `None` where the record lacks them.
#[derive(Default, Debug)]
pub struct DirectoryFields<'a> {
    /// (field name as exported, value) of the activity time.
    pub time: Option<(&'static str, Cow<'a, str>)>,
    /// Log Analytics `TimeGenerated` or the diagnostic record's `time`: used when the record
    /// has no activity time (it is when the record was ingested, a little later).
    pub time_generated: Option<(&'static str, Cow<'a, str>)>,
    pub id: Option<Cow<'a, str>>,
    pub activity: Option<Cow<'a, str>>,
    pub category: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    pub operation_type: Option<Cow<'a, str>>,
    pub result: Option<Cow<'a, str>>,
    pub result_reason: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub initiator: Initiator<'a>,
    pub targets: Vec<Target<'a>>,
    pub details: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Nested values that did not parse, by field name (kept as a note on the event).
    pub unparsed: Vec<&'static str>,
}

impl<'a> DirectoryFields<'a> {
    /// Takes one field by its lower-cased name (Graph camelCase and Log Analytics PascalCase
    /// names fold to the same key). Returns false for a key it does not use.
    pub fn set(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        let t = || v.text();
        match key {
            "activitydatetime" => self.time = t().map(|s| ("activityDateTime", s)),
            "timegenerated" => self.time_generated = t().map(|s| ("TimeGenerated", s)),
            "id" => self.id = t(),
            "activitydisplayname" | "activity" => self.activity = t(),
            // Log Analytics repeats the activity as OperationName; the activity name wins.
            "operationname" if self.activity.is_none() => self.activity = t(),
            "category" | "auditeventcategory" => self.category = t(),
            "loggedbyservice" | "service" => self.service = t(),
            "operationtype" | "aadoperationtype" => self.operation_type = t(),
            "result" => self.result = t(),
            "resulttype" if self.result.is_none() => self.result = t(),
            "resultreason" => self.result_reason = t(),
            "resultdescription" if self.result_reason.is_none() => self.result_reason = t(),
            "correlationid" => self.correlation_id = t(),
            "useragent" | "user agent" => self.user_agent = t(),
            "initiatedby" => match v.object_text() {
                Some(obj) => self.initiated_by(obj),
                None => return false,
            },
            "targetresources" => match v.object_text() {
                Some(list) => self.target_resources(list),
                None => return false,
            },
            "additionaldetails" => match v.object_text() {
                Some(list) => self.additional_details(list),
                None => return false,
            },
            // The 2018 preview schema: one target and its properties at the top of `properties`.
            "targetresourcename" => self.target_mut(0).name = t(),
            "targetupdatedproperties" => match v.object_text() {
                Some(list) => {
                    let modified: Vec<Modified<'a>> =
                        modified_properties(&list, &mut self.unparsed)
                            .into_iter()
                            .map(owned)
                            .collect();
                    self.target_mut(0).modified.extend(modified);
                }
                None => return false,
            },
            _ => return false,
        }
        true
    }

    fn target_mut(&mut self, i: usize) -> &mut Target<'a> {
        while self.targets.len() <= i {
            self.targets.push(Target::default());
        }
        &mut self.targets[i]
    }

    fn initiated_by(&mut self, obj: Cow<'a, str>) {
        let ok = for_each_owned(obj, |k, v| match k {
            "user" => {
                if let Some(user) = json::object_text(v) {
                    let _ = for_each_owned(user, |k, v| {
                        let t = || json::text(v).map(|s| Cow::Owned(s.into_owned()));
                        match k {
                            "userprincipalname" => self.initiator.upn = t(),
                            "displayname" => self.initiator.user_name = t(),
                            "id" => self.initiator.user_id = t(),
                            "ipaddress" => self.initiator.ip = t(),
                            _ => {}
                        }
                    });
                }
            }
            "app" => {
                if let Some(app) = json::object_text(v) {
                    let _ = for_each_owned(app, |k, v| {
                        let t = || json::text(v).map(|s| Cow::Owned(s.into_owned()));
                        match k {
                            "displayname" => self.initiator.app_name = t(),
                            "appid" => self.initiator.app_id = t(),
                            "serviceprincipalname" => self.initiator.service_principal_name = t(),
                            _ => {}
                        }
                    });
                }
            }
            _ => {}
        });
        if !ok {
            self.unparsed.push("initiatedBy");
        }
    }

    fn target_resources(&mut self, list: Cow<'a, str>) {
        let mut targets = Vec::new();
        let mut unparsed = Vec::new();
        let ok = json::for_each_element(&list, |item| {
            let mut target = Target::default();
            let parsed = json::for_each_field_ci(item.get(), |k, v| {
                let t = || json::text(v).map(|s| Cow::Owned(s.into_owned()));
                match k {
                    "type" => target.kind = t(),
                    "displayname" => target.name = t(),
                    "id" => target.id = t(),
                    "userprincipalname" => target.upn = t(),
                    "modifiedproperties" => {
                        if let Some(list) = json::object_text(v) {
                            target.modified = modified_properties(&list, &mut unparsed)
                                .into_iter()
                                .map(owned)
                                .collect();
                        }
                    }
                    _ => {}
                }
            });
            if parsed.is_err() {
                unparsed.push("targetResources");
            }
            targets.push(target);
        })
        .is_ok();
        self.targets.extend(targets);
        self.unparsed.extend(unparsed);
        if !ok {
            self.unparsed.push("targetResources");
        }
    }

    fn additional_details(&mut self, list: Cow<'a, str>) {
        let mut details = Vec::new();
        let ok = json::for_each_element(&list, |item| {
            let (mut key, mut value) = (None, None);
            let _ = json::for_each_field_ci(item.get(), |k, v| match k {
                "key" => key = json::text(v).map(Cow::into_owned),
                "value" => value = json::text(v).map(Cow::into_owned),
                _ => {}
            });
            if let (Some(k), Some(v)) = (key, value) {
                details.push((Cow::Owned(k), Cow::Owned(v)));
            }
        })
        .is_ok();
        self.details.extend(details);
        if !ok {
            self.unparsed.push("additionalDetails");
        }
    }

    /// Builds the event.
    pub fn into_event(self, cx: &mut RowCtx) -> Result<Event, RowError> {
        let time = match (&self.time, &self.time_generated) {
            (Some((field, t)), _) | (None, Some((field, t))) => cx.time(field, t)?,
            (None, None) => return Err(RowError::missing("activityDateTime")),
        };
        let activity = self
            .activity
            .as_deref()
            .and_then(text::present)
            .ok_or_else(|| RowError::missing("activityDisplayName"))?;
        let init = &self.initiator;
        let app_kind = init
            .kind
            .as_deref()
            .is_some_and(|k| k.trim().to_ascii_lowercase().starts_with("ap"));
        let (user, initiator_type) = match (present(&init.upn), app_kind) {
            (Some(upn), false) => (text::user(upn), "user"),
            _ => match present(&init.app_name)
                .or(present(&init.service_principal_name))
                .or(present(&init.app_id))
            {
                Some(app) => (text::intern(app), "app"),
                None => match present(&init.upn).or(present(&init.user_name)) {
                    Some(u) => (text::user(u), "user"),
                    None => (text::intern("system"), "system"),
                },
            },
        };
        let mut e = Event::new(time, Source::Directory, user, text::intern(activity));
        e.outcome = result_outcome(self.result.as_deref());
        if let Some(raw) = present(&init.ip).filter(|s| *s != "<null>") {
            match ip::parse(raw.trim_start_matches("::").trim()) {
                Some(addr) => e.ip = Some(addr),
                None => push_attr(&mut e, "ip_unparsed", raw),
            }
        }
        let detail = |name: &str| {
            self.details
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| &**v)
        };
        if e.ip.is_none() {
            if let Some(addr) = detail("ipaddr").and_then(ip::parse) {
                e.ip = Some(addr);
            }
        }
        e.user_agent = present(&self.user_agent)
            .or_else(|| detail("User-Agent").and_then(text::present))
            .and_then(opt);
        if initiator_type == "app" {
            e.application = present(&init.app_name).and_then(opt);
        }
        e.correlation_id = self.correlation_id.as_deref().and_then(opt_id);
        e.record_id = self.id.as_deref().and_then(opt_id);
        e.object = self
            .targets
            .iter()
            .find_map(|t| present(&t.name).or(present(&t.upn)))
            .and_then(opt);

        push_attr(&mut e, "initiator_type", initiator_type);
        for (name, value) in [
            ("category", &self.category),
            ("logged_by_service", &self.service),
            ("operation_type", &self.operation_type),
            ("result_reason", &self.result_reason),
            ("initiator_app_id", &init.app_id),
            ("initiator_user_id", &init.user_id),
        ] {
            if let Some(v) = value.as_deref() {
                push_attr(&mut e, name, v);
            }
        }
        for t in &self.targets {
            if let Some(upn) = present(&t.upn) {
                e.attrs.push((text::intern_name("target"), text::user(upn)));
            }
        }
        for t in &self.targets {
            push_attr(&mut e, "target_type", t.kind.as_deref().unwrap_or("N/A"));
            if let Some(name) = present(&t.name) {
                push_attr(&mut e, "target_name", name);
            }
            if let Some(id) = present(&t.id) {
                crate::normalize::push_attr_id(&mut e, "target_id", id);
            }
        }
        for t in &self.targets {
            for (name, old, new) in &t.modified {
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                push_value(&mut e, "modified.", name, new.as_deref());
                push_value(&mut e, "modified_old.", name, old.as_deref());
            }
        }
        for (k, v) in &self.details {
            crate::normalize::push_prefixed_attr(&mut e, "detail.", k, v, false);
        }
        for field in &self.unparsed {
            push_attr(&mut e, "parse_error", field);
        }
        Ok(e)
    }
}

/// A modified property's value: kept when it says "emptied" (`[]`, `""` in JSON), dropped only
/// when absent or `null`, so a removed MFA method list still shows as `[]`.
fn push_value(e: &mut Event, prefix: &str, name: &str, value: Option<&str>) {
    if let Some(v) = value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "null")
    {
        e.attrs
            .push((text::intern_joined(prefix, name), text::unique(v)));
    }
}

/// `result`: `success`, `failure`, `timeout` (Graph), `Success` / `Failure` (Log Analytics
/// `ResultType`), `0` in an old documentation example.
fn result_outcome(result: Option<&str>) -> Outcome {
    match result.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        Some("success" | "succeeded" | "0" | "true") => Outcome::Success,
        Some("failure" | "failed" | "false") => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

/// `modifiedProperties` (`displayName`, `oldValue`, `newValue`) or the preview schema's
/// `targetUpdatedProperties` (`Name`, `OldValue`, `NewValue`). Values are JSON text as exported.
pub fn modified_properties<'t>(
    list: &'t str,
    unparsed: &mut Vec<&'static str>,
) -> Vec<Modified<'t>> {
    let mut out = Vec::new();
    let ok = json::for_each_element(list, |item| {
        let (mut name, mut old, mut new) = (None, None, None);
        let _ = json::for_each_field_ci(item.get(), |k, v| {
            let value = || json::text(v).or_else(|| json::object_text(v));
            match k {
                "displayname" | "name" => name = json::text(v),
                "oldvalue" => old = value(),
                "newvalue" => new = value(),
                _ => {}
            }
        });
        if let Some(name) = name {
            out.push((name, old, new));
        }
    });
    if ok.is_err() {
        unparsed.push("modifiedProperties");
    }
    out
}

fn owned<'x>((n, o, v): Modified<'_>) -> Modified<'x> {
    (
        Cow::Owned(n.into_owned()),
        o.map(|o| Cow::Owned(o.into_owned())),
        v.map(|v| Cow::Owned(v.into_owned())),
    )
}

/// Walks an object held either borrowed or owned, keys in lower case; false if it did not parse.
fn for_each_owned(obj: Cow<'_, str>, mut f: impl FnMut(&str, Raw<'_>)) -> bool {
    json::for_each_field_ci(&obj, |k, v| f(k, v)).is_ok()
}

/// The value, trimmed, unless absent, empty or a placeholder.
fn present<'b>(v: &'b Option<Cow<'_, str>>) -> Option<&'b str> {
    v.as_deref().and_then(text::present)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::DateOrder;

    fn decode(json_text: &str) -> Event {
        let mut f = DirectoryFields::default();
        json::for_each_field_ci(json_text, |k, v| {
            f.set(k, FieldValue::Json(v));
        })
        .unwrap();
        f.into_event(&mut RowCtx::new(DateOrder::Auto)).unwrap()
    }

    #[test]
    fn role_assignment_names_initiator_target_and_role() {
        let e = decode(
            r#"{"id":"Directory_1","category":"RoleManagement","result":"success","resultReason":"",
            "activityDisplayName":"Add member to role","activityDateTime":"2025-03-04T05:06:07.1234567Z",
            "loggedByService":"Core Directory","operationType":"Assign",
            "initiatedBy":{"user":{"id":"u1","userPrincipalName":"Admin@Example.test","ipAddress":"192.0.2.10"},"app":null},
            "targetResources":[{"id":"t1","type":"User","userPrincipalName":"Victim@Example.test",
              "modifiedProperties":[{"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"Global Administrator\""}]}],
            "additionalDetails":[{"key":"User-Agent","value":"Agent/1.0"}]}"#,
        );
        assert_eq!(&*e.user, "admin@example.test");
        assert_eq!(e.source, Source::Directory);
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), Some("192.0.2.10"));
        assert_eq!(e.attr("target"), Some("victim@example.test"));
        assert_eq!(
            e.attr("modified.Role.DisplayName"),
            Some("\"Global Administrator\"")
        );
        assert_eq!(e.attr("modified_old.Role.DisplayName"), None);
        assert_eq!(e.user_agent.as_deref(), Some("Agent/1.0"));
        assert_eq!(e.attr("category"), Some("RoleManagement"));
        assert_eq!(e.attr("operation_type"), Some("Assign"));
        let subjects: Vec<_> = e.subjects().map(|(s, r)| (s.into_owned(), r)).collect();
        assert_eq!(subjects.len(), 2, "{subjects:?}");
    }

    #[test]
    fn removed_mfa_methods_keep_the_empty_list_and_app_initiators_are_apps() {
        let e = decode(
            r#"{"ActivityDisplayName":"Update user","ActivityDateTime":"2025-03-04T05:06:07Z","Result":"failure",
            "InitiatedBy":{"app":{"displayName":"Microsoft Substrate Management","appId":"a1"}},
            "TargetResources":[{"UserPrincipalName":"v@example.test","ModifiedProperties":[
              {"DisplayName":"StrongAuthenticationMethod","OldValue":"[{\"MethodType\":6,\"Default\":true}]","NewValue":"[]"}]}]}"#,
        );
        assert_eq!(&*e.user, "Microsoft Substrate Management");
        assert_eq!(e.attr("initiator_type"), Some("app"));
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.attr("modified.StrongAuthenticationMethod"), Some("[]"));
        assert_eq!(
            e.attr("modified_old.StrongAuthenticationMethod"),
            Some("[{\"MethodType\":6,\"Default\":true}]")
        );
    }

    #[test]
    fn a_broken_nested_value_is_a_note_not_a_lost_record() {
        let e = decode(
            r#"{"activityDisplayName":"Update user","activityDateTime":"2025-03-04T05:06:07Z",
            "initiatedBy":"{\"user\": {\"userPrincipalName\": \"a@example.test\"}",
            "targetResources":"[{\"userPrincipalName\": \"v@example.test\"}, {oops"}"#,
        );
        // What was read before the break is kept, and the break is noted.
        assert_eq!(&*e.user, "a@example.test");
        assert_eq!(e.attr("target"), Some("v@example.test"));
        assert!(e.attr_all("parse_error").any(|f| f == "initiatedBy"));
        assert!(e.attr_all("parse_error").any(|f| f == "targetResources"));
    }
}
