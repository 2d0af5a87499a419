//! Purview unified audit log records: the `AuditData` JSON every UAL export variant carries
//! (docs/formats.md, "Unified audit log"; fields in Microsoft's
//! "Detailed properties in the audit log"), and the Log Analytics `OfficeActivity` columns that flatten it.
//! Every UAL decoder fills [`AuditFields`] and calls [`AuditFields::into_event`].

use std::borrow::Cow;

use crate::model::{Event, Outcome, Source, Text};
use crate::normalize::json;
use crate::normalize::{
    ip, opt, opt_id, push_attr, push_attr_id, push_prefixed_attr, signin_outcome, text, FieldValue,
    RowCtx, RowError,
};

/// Facts of one audit record; `None` where absent.
#[derive(Default, Debug)]
pub struct AuditFields<'a> {
    pub id: Option<Cow<'a, str>>,
    pub creation_time: Option<Cow<'a, str>>,
    pub time_generated: Option<Cow<'a, str>>,
    pub start_time: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub record_type: Option<Cow<'a, str>>,
    pub result_status: Option<Cow<'a, str>>,
    pub workload: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub user_type: Option<Cow<'a, str>>,
    pub client_ip: Option<Cow<'a, str>>,
    pub client_ip_address: Option<Cow<'a, str>>,
    pub actor_ip: Option<Cow<'a, str>>,
    pub object_id: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub client_info: Option<Cow<'a, str>>,
    pub session_id: Option<Cow<'a, str>>,
    pub app_access_context: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub inter_systems_id: Option<Cow<'a, str>>,
    pub intra_system_id: Option<Cow<'a, str>>,
    pub application_id: Option<Cow<'a, str>>,
    pub application_name: Option<Cow<'a, str>>,
    pub app_id: Option<Cow<'a, str>>,
    pub client_app_id: Option<Cow<'a, str>>,
    pub error_number: Option<Cow<'a, str>>,
    pub logon_error: Option<Cow<'a, str>>,
    pub extended_properties: Option<Cow<'a, str>>,
    pub device_properties: Option<Cow<'a, str>>,
    pub parameters: Option<Cow<'a, str>>,
    pub operation_properties: Option<Cow<'a, str>>,
    pub modified_properties: Option<Cow<'a, str>>,
    pub target: Option<Cow<'a, str>>,
    pub mailbox_owner: Option<Cow<'a, str>>,
    pub logon_type: Option<Cow<'a, str>>,
    pub item: Option<Cow<'a, str>>,
    pub folders: Option<Cow<'a, str>>,
    pub folder: Option<Cow<'a, str>>,
    pub dest_folder: Option<Cow<'a, str>>,
    pub affected_items: Option<Cow<'a, str>>,
    pub operation_count: Option<Cow<'a, str>>,
    pub send_as: Option<Cow<'a, str>>,
    pub send_on_behalf: Option<Cow<'a, str>>,
    pub site_url: Option<Cow<'a, str>>,
    pub file_name: Option<Cow<'a, str>>,
    pub relative_url: Option<Cow<'a, str>>,
    pub shared_with: Option<Cow<'a, str>>,
    pub sharing_type: Option<Cow<'a, str>>,
    pub external_access: Option<Cow<'a, str>>,
    /// `Name`: kept only as the alert name of Security & Compliance alert records.
    pub name: Option<Cow<'a, str>>,
    /// Defender for Office 365 (ThreatIntelligence) mail and URL-click records.
    pub directionality: Option<Cow<'a, str>>,
    pub delivery_action: Option<Cow<'a, str>>,
    pub url_click_action: Option<Cow<'a, str>>,
}

impl<'a> AuditFields<'a> {
    /// Takes one field by its AuditData name, or its Log Analytics `OfficeActivity` name.
    /// Returns false for a key it does not use.
    pub fn set(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        json::with_lower(key, |key| self.set_lower(key, v))
    }

    /// [`Self::set`] for a key already in lower case (from [`json::for_each_field_ci`]).
    pub fn set_lower(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        let slot = match key {
            "id" | "officeid" => &mut self.id,
            "creationtime" => &mut self.creation_time,
            "timegenerated" => &mut self.time_generated,
            // Log Analytics OfficeActivity: when the operation started.
            "start_time" => &mut self.start_time,
            "operation" => &mut self.operation,
            "recordtype" => &mut self.record_type,
            "resultstatus" => &mut self.result_status,
            "workload" | "officeworkload" => &mut self.workload,
            "userid" => &mut self.user_id,
            "usertype" => &mut self.user_type,
            "clientip" => &mut self.client_ip,
            "clientipaddress" | "client_ipaddress" => &mut self.client_ip_address,
            "actoripaddress" => &mut self.actor_ip,
            "objectid" | "officeobjectid" => &mut self.object_id,
            "useragent" => &mut self.user_agent,
            "clientinfostring" => &mut self.client_info,
            "sessionid" => &mut self.session_id,
            "correlationid" => &mut self.correlation_id,
            "intersystemsid" => &mut self.inter_systems_id,
            "intrasystemid" => &mut self.intra_system_id,
            "applicationid" => &mut self.application_id,
            "applicationdisplayname" => &mut self.application_name,
            "appid" => &mut self.app_id,
            "clientappid" => &mut self.client_app_id,
            "errornumber" | "errorcode" => &mut self.error_number,
            "logonerror" => &mut self.logon_error,
            "mailboxownerupn" => &mut self.mailbox_owner,
            "logontype" | "logon_type" => &mut self.logon_type,
            "operationcount" => &mut self.operation_count,
            "sendasusersmtp" => &mut self.send_as,
            "sendonbehalfofusersmtp" => &mut self.send_on_behalf,
            "siteurl" | "site_url" => &mut self.site_url,
            "sourcefilename" => &mut self.file_name,
            "sourcerelativeurl" => &mut self.relative_url,
            "targetuserorgroupname" => &mut self.shared_with,
            "targetuserorgrouptype" => &mut self.sharing_type,
            "externalaccess" => &mut self.external_access,
            "name" => &mut self.name,
            "directionality" => &mut self.directionality,
            "deliveryaction" => &mut self.delivery_action,
            "urlclickaction" => &mut self.url_click_action,
            _ => {
                let slot = match key {
                    "appaccesscontext" => &mut self.app_access_context,
                    "extendedproperties" => &mut self.extended_properties,
                    "deviceproperties" => &mut self.device_properties,
                    "parameters" => &mut self.parameters,
                    "operationproperties" => &mut self.operation_properties,
                    "modifiedproperties" => &mut self.modified_properties,
                    "target" => &mut self.target,
                    "item" => &mut self.item,
                    "folders" => &mut self.folders,
                    "folder" => &mut self.folder,
                    "destfolder" => &mut self.dest_folder,
                    "affecteditems" => &mut self.affected_items,
                    _ => return false,
                };
                *slot = v.object_text();
                return true;
            }
        };
        *slot = v.text();
        true
    }

    /// Builds the event. `hints` are the export's wrapper columns, used where AuditData lacks a
    /// value (and for nothing else: AuditData is authoritative, see docs/formats.md).
    pub fn into_event(self, cx: &mut RowCtx, hints: &AuditHints) -> Result<Event, RowError> {
        let time = match (&self.creation_time, &self.time_generated, &self.start_time, &hints.time) {
            (Some(t), _, _, _) => cx.time("CreationTime", t)?,
            (None, Some(t), _, _) => cx.time("TimeGenerated", t)?,
            (None, None, Some(t), _) => cx.time("Start_Time", t)?,
            (None, None, None, Some((field, t))) => cx.time(field, t)?,
            (None, None, None, None) => {
                return Err(RowError::field(
                    "CreationTime",
                    "no time: CreationTime (AuditData), TimeGenerated and Start_Time (OfficeActivity) and the export's date column are all empty or absent",
                ))
            }
        };
        let operation = self
            .operation
            .as_deref()
            .and_then(text::present)
            .or(hints.operation.as_deref().and_then(text::present))
            .ok_or_else(|| RowError::missing("AuditData.Operation"))?;
        let user = [&self.user_id, &hints.user, &self.mailbox_owner]
            .into_iter()
            .find_map(|v| v.as_deref().and_then(text::present))
            .ok_or_else(|| RowError::missing("AuditData.UserId"))?;
        let mut e = Event::new(
            time,
            Source::Audit,
            text::user(user),
            text::intern(operation),
        );
        let mut ext = Properties::parse(self.extended_properties.as_deref());
        let device = Properties::parse(self.device_properties.as_deref());
        let context = AppAccessContext::parse(self.app_access_context.as_deref());

        let record_type = self.record_type.as_deref().or(hints.record_type.as_deref());
        let is_sts_logon = record_type
            .is_some_and(|r| r == "15" || r == "AzureActiveDirectoryStsLogon")
            || operation == "UserLoggedIn"
            || operation == "UserLoginFailed";
        // STS logon records say `ResultStatus: Success` even for failed logons; the
        // error number is what tells (docs/formats.md).
        (e.outcome, e.error_code) = if is_sts_logon {
            let (mut outcome, code) = signin_outcome(self.error_number.as_deref(), None);
            if outcome == Outcome::Unknown {
                outcome = if operation == "UserLoginFailed" {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
            }
            (outcome, code)
        } else {
            (result_outcome(self.result_status.as_deref()), None)
        };

        let ips = [&self.client_ip, &self.client_ip_address, &self.actor_ip];
        for raw in ips
            .iter()
            .filter_map(|v| v.as_deref().and_then(text::present))
        {
            match ip::parse(raw) {
                Some(addr) => {
                    e.ip = Some(addr);
                    break;
                }
                None => push_attr(&mut e, "ip_unparsed", raw),
            }
        }
        e.user_agent = self
            .user_agent
            .as_deref()
            .and_then(opt)
            .or_else(|| ext.take("UserAgent").as_deref().and_then(opt))
            .or_else(|| additional_details_user_agent(&ext).as_deref().and_then(opt));
        e.application = context
            .client_app_name
            .as_deref()
            .and_then(opt)
            .or_else(|| self.application_name.as_deref().and_then(opt));
        // The app that acted: `ClientAppId` names it when an app reads mail through Graph
        // (`AppId` is then Graph's own id), so it comes first.
        let client_app_id = [
            self.client_app_id.as_deref(),
            context.client_app_id.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(text::present);
        let app_id = client_app_id.or_else(|| {
            [self.application_id.as_deref(), self.app_id.as_deref()]
                .into_iter()
                .flatten()
                .find_map(text::present)
        });
        if e.application.is_none() {
            e.application = app_id.and_then(opt);
        }
        e.client_app = self.client_info.as_deref().and_then(opt);
        e.device_id = device.get("Id").and_then(opt_id);
        e.session_id = [
            self.session_id.as_deref(),
            context.session_id.as_deref(),
            device.get("SessionId"),
        ]
        .into_iter()
        .flatten()
        .find_map(opt);
        e.correlation_id = [
            self.correlation_id.as_deref(),
            context.correlation_id.as_deref(),
            self.inter_systems_id.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(opt_id);
        e.request_id = self.intra_system_id.as_deref().and_then(opt_id);
        e.token_id = context.unique_token_id.as_deref().and_then(opt_id);
        e.record_id = self.id.as_deref().or(hints.id.as_deref()).and_then(opt_id);

        if let Some(rt) = record_type {
            push_attr(&mut e, "record_type", record_type_name(rt));
        }
        for (name, value) in [
            ("workload", &self.workload),
            ("result_status", &self.result_status),
            ("logon_error", &self.logon_error),
            ("operation_count", &self.operation_count),
            ("send_as", &self.send_as),
            ("send_on_behalf", &self.send_on_behalf),
            ("site_url", &self.site_url),
            ("file_name", &self.file_name),
            ("shared_with", &self.shared_with),
            ("sharing_type", &self.sharing_type),
            ("external_access", &self.external_access),
            ("directionality", &self.directionality),
            ("delivery_action", &self.delivery_action),
            ("url_click_action", &self.url_click_action),
        ] {
            if let Some(v) = value.as_deref() {
                push_attr(&mut e, name, v);
            }
        }
        // Security & Compliance alerts (record type 40, `SecurityComplianceAlerts`): `Name` is
        // the alert's name (Management Activity API schema). Other records' `Name` means other
        // things, so it is kept for these only.
        let is_alert = record_type.is_some_and(|r| r == "40" || r == "SecurityComplianceAlerts")
            || operation == "AlertTriggered"
            || operation == "AlertEntityGenerated";
        if let Some(name) = self.name.as_deref().filter(|_| is_alert) {
            push_attr(&mut e, "alert_name", name);
        }
        if let Some(app_id) = app_id {
            push_attr(&mut e, "app_id", app_id);
        }
        if let Some(client) = client_app_id {
            push_attr(&mut e, "client_app_id", client);
        }
        if let Some(via) = self.app_id.as_deref().filter(|a| Some(*a) != app_id) {
            push_attr(&mut e, "via_app_id", via);
        }
        if let Some(owner) = self.mailbox_owner.as_deref().and_then(text::present) {
            e.attrs
                .push((text::intern_name("mailbox_owner"), text::user(owner)));
        }
        if let Some(ut) = self.user_type.as_deref() {
            push_attr(&mut e, "user_type", user_type_name(ut));
        }
        if let Some(lt) = self.logon_type.as_deref() {
            push_attr(&mut e, "logon_type", logon_type_name(lt));
        }
        if let Some(code) = self
            .error_number
            .as_deref()
            .filter(|c| !is_sts_logon && *c != "0")
        {
            e.error_code = opt(code);
        }
        let params = Properties::parse(self.parameters.as_deref());
        for (prefix, props) in [
            ("param.", &params),
            (
                "prop.",
                &Properties::parse(self.operation_properties.as_deref()),
            ),
            ("ext.", &ext),
            ("device.", &device),
        ] {
            for (name, value) in &props.0 {
                push_prefixed_attr(&mut e, prefix, name, value, false);
            }
        }
        for (name, value) in json_list(self.modified_properties.as_deref()) {
            push_prefixed_attr(&mut e, "modified.", &name, &value, true);
        }
        if let Some(list) = self.target.as_deref() {
            let _ = json::for_each_element(list, |t| {
                let _ = json::for_each_field_ci(t.get(), |k, v| {
                    if k == "id" {
                        if let Some(id) = json::text(v) {
                            push_attr(&mut e, "target", &id);
                        }
                    }
                });
            });
        }
        let mut mail = MailItems::default();
        if let Some(item) = self.item.as_deref() {
            mail.item(item);
        }
        if let Some(list) = self.affected_items.as_deref() {
            let _ = json::for_each_element(list, |item| mail.item(item.get()));
        }
        if let Some(list) = self.folders.as_deref() {
            let _ = json::for_each_element(list, |folder| mail.folder(folder.get()));
        }
        if let Some(folder) = self.folder.as_deref() {
            mail.folder(folder);
        }
        if let Some(dest) = self.dest_folder.as_deref() {
            mail.dest_folder = folder_path(dest);
        }
        mail.push_attrs(&mut e);
        note_unparsed_nested(&self, &mut e, cx);

        e.object = object_of(operation, &params, &self, &mail);
        Ok(e)
    }
}

/// Values an export's wrapper columns carry besides AuditData (portal `CreationDate`,
/// PowerShell `UserIds`, `Operations`, `RecordType` name, `Identity`).
#[derive(Default, Debug)]
pub struct AuditHints<'a> {
    pub time: Option<(&'static str, Cow<'a, str>)>,
    pub user: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub record_type: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
}

/// Decodes one AuditData JSON text.
pub fn decode(text: &str, cx: &mut RowCtx, hints: &AuditHints) -> Result<Event, RowError> {
    let mut f = AuditFields::default();
    json::for_each_field_ci(text, |k, v| {
        f.set_lower(k, FieldValue::Json(v));
    })
    .map_err(|e| RowError::json("AuditData", &e))?;
    f.into_event(cx, hints)
}

fn result_outcome(status: Option<&str>) -> Outcome {
    match status.map(str::trim) {
        Some(s)
            if s.eq_ignore_ascii_case("succeeded")
                || s.eq_ignore_ascii_case("success")
                || s.eq_ignore_ascii_case("true")
                || s.eq_ignore_ascii_case("partiallysucceeded") =>
        {
            Outcome::Success
        }
        Some(s)
            if s.eq_ignore_ascii_case("failed")
                || s.eq_ignore_ascii_case("failure")
                || s.eq_ignore_ascii_case("false") =>
        {
            Outcome::Failure
        }
        _ => Outcome::Unknown,
    }
}

/// A `[{Name, Value}]` list as ordered pairs.
struct Properties<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Properties<'a> {
    fn parse(list: Option<&'a str>) -> Properties<'a> {
        Properties(json_list(list))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| &**v)
    }

    /// Removes and returns a property (one that becomes an event field rather than an attr).
    fn take(&mut self, name: &str) -> Option<Cow<'a, str>> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }
}

/// Nested AuditData values (`Parameters`, `Folders`...) are read leniently: what parses is
/// used. One that is not valid JSON is named in the event's `parse_error` attr and counted as
/// a note of the file, so a half-read value is never silent.
fn note_unparsed_nested(f: &AuditFields, e: &mut Event, cx: &mut RowCtx) {
    let mut any = false;
    for (field, value) in [
        ("Parameters", &f.parameters),
        ("OperationProperties", &f.operation_properties),
        ("ModifiedProperties", &f.modified_properties),
        ("ExtendedProperties", &f.extended_properties),
        ("DeviceProperties", &f.device_properties),
        ("AppAccessContext", &f.app_access_context),
        ("Target", &f.target),
        ("Item", &f.item),
        ("AffectedItems", &f.affected_items),
        ("Folders", &f.folders),
        ("Folder", &f.folder),
        ("DestFolder", &f.dest_folder),
    ] {
        let Some(text) = value.as_deref() else {
            continue;
        };
        if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
            push_attr(e, "parse_error", field);
            any = true;
        }
    }
    if any {
        cx.note(crate::normalize::Note::NestedJson);
    }
}

fn json_list(list: Option<&str>) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    list.map(json::name_values).unwrap_or_default()
}

/// `ExtendedProperties.additionalDetails` is JSON text with `User-Agent` on Entra records.
fn additional_details_user_agent(ext: &Properties) -> Option<String> {
    let details = ext.get("additionalDetails")?;
    let mut ua = None;
    let _ = json::for_each_field_ci(details, |k, v| {
        if k == "user-agent" {
            ua = json::text(v).map(Cow::into_owned);
        }
    });
    ua
}

#[derive(Default)]
struct AppAccessContext {
    session_id: Option<String>,
    correlation_id: Option<String>,
    unique_token_id: Option<String>,
    client_app_name: Option<String>,
    client_app_id: Option<String>,
}

impl AppAccessContext {
    fn parse(obj: Option<&str>) -> AppAccessContext {
        let mut c = AppAccessContext::default();
        if let Some(obj) = obj {
            let _ = json::for_each_field_ci(obj, |k, v| {
                let value = || json::text(v).map(Cow::into_owned);
                match k {
                    "aadsessionid" => c.session_id = value(),
                    "correlationid" => c.correlation_id = value(),
                    "uniquetokenid" => c.unique_token_id = value(),
                    "clientappname" => c.client_app_name = value(),
                    "clientappid" => c.client_app_id = value(),
                    _ => {}
                }
            });
        }
        c
    }
}

/// Mail items and folders named by a mailbox record (`Item`, `AffectedItems`, `Folders`).
#[derive(Default)]
struct MailItems {
    subjects: Vec<String>,
    message_ids: Vec<String>,
    folders: Vec<String>,
    dest_folder: Option<String>,
    attachments: Vec<String>,
}

impl MailItems {
    fn item(&mut self, obj: &str) {
        let _ = json::for_each_field_ci(obj, |k, v| match k {
            "subject" => push_unique(&mut self.subjects, json::text(v)),
            "internetmessageid" => push_unique(&mut self.message_ids, json::text(v)),
            "attachments" => push_unique(&mut self.attachments, json::text(v)),
            "parentfolder" => {
                if let Some(obj) = json::object_text(v) {
                    push_unique(&mut self.folders, folder_path(&obj).map(Cow::Owned));
                }
            }
            _ => {}
        });
    }

    fn folder(&mut self, obj: &str) {
        let _ = json::for_each_field_ci(obj, |k, v| match k {
            "path" => push_unique(&mut self.folders, json::text(v)),
            "folderitems" => {
                if let Some(list) = json::object_text(v) {
                    let _ = json::for_each_element(&list, |item| self.item(item.get()));
                }
            }
            _ => {}
        });
    }

    fn push_attrs(&self, e: &mut Event) {
        for s in &self.subjects {
            push_attr(e, "subject", s);
        }
        for f in &self.folders {
            push_attr(e, "folder", f);
        }
        if let Some(d) = &self.dest_folder {
            push_attr(e, "dest_folder", d);
        }
        for a in &self.attachments {
            push_attr_id(e, "attachments", a);
        }
        for m in &self.message_ids {
            push_attr_id(e, "message_id", m);
        }
    }
}

fn push_unique(list: &mut Vec<String>, value: Option<Cow<str>>) {
    if let Some(v) = value.as_deref().and_then(text::present) {
        if !list.iter().any(|x| x == v) {
            list.push(v.to_string());
        }
    }
}

fn folder_path(obj: &str) -> Option<String> {
    let mut path = None;
    let _ = json::for_each_field_ci(obj, |k, v| {
        if k == "path" {
            path = json::text(v).map(Cow::into_owned);
        }
    });
    path
}

/// What the operation acted on, in the words an investigator would use.
fn object_of(
    operation: &str,
    params: &Properties,
    f: &AuditFields,
    mail: &MailItems,
) -> Option<Text> {
    let object_id = f.object_id.as_deref().and_then(text::present);
    if operation.ends_with("InboxRule") {
        let name = params.get("Name").or_else(|| {
            let id = params.get("Identity").or(object_id)?;
            id.rsplit('\\').next()
        });
        if let Some(n) = name {
            return Some(text::intern(n));
        }
    }
    if operation == "Set-Mailbox"
        || operation.starts_with("Add-Mailbox")
        || operation.starts_with("Add-Recipient")
    {
        if let Some(identity) = params.get("Identity") {
            return opt(identity);
        }
    }
    if let Some(subject) = mail.subjects.first() {
        return opt(subject);
    }
    if let Some(id) = object_id {
        return opt(id);
    }
    mail.folders.first().and_then(|f| opt(f))
}

/// `UserType` numbers to names (Management Activity API schema); OfficeActivity writes names.
fn user_type_name(v: &str) -> &str {
    match v.trim() {
        "0" => "Regular",
        "1" => "Reserved",
        "2" => "Admin",
        "3" => "DcAdmin",
        "4" => "System",
        "5" => "Application",
        "6" => "ServicePrincipal",
        "7" => "CustomPolicy",
        "8" => "SystemPolicy",
        "9" => "PartnerTechnician",
        "10" => "Guest",
        other => other,
    }
}

/// Mailbox `LogonType` numbers to names (Microsoft's Management Activity API schema).
fn logon_type_name(v: &str) -> &str {
    match v.trim() {
        "0" => "Owner",
        "1" => "Admin",
        "2" => "Delegated",
        "3" => "Transport",
        "4" => "SystemService",
        "5" => "BestAccess",
        "6" => "DelegatedAdmin",
        other => other,
    }
}

/// `AuditLogRecordType` numbers to names (Management Activity API schema); names pass through,
/// unknown numbers stay numbers. Exports write the number (AuditData, portal CSV) or the name
/// (PowerShell, OfficeActivity, Graph camelCase), so both become the name.
pub fn record_type_name(v: &str) -> &str {
    let v = v.trim();
    let name = match v {
        "1" => "ExchangeAdmin",
        "2" => "ExchangeItem",
        "3" => "ExchangeItemGroup",
        "4" => "SharePoint",
        "6" => "SharePointFileOperation",
        "7" => "OneDrive",
        "8" => "AzureActiveDirectory",
        "9" => "AzureActiveDirectoryAccountLogon",
        "10" => "DataCenterSecurityCmdlet",
        "11" => "ComplianceDLPSharePoint",
        "13" => "ComplianceDLPExchange",
        "14" => "SharePointSharingOperation",
        "15" => "AzureActiveDirectoryStsLogon",
        "18" => "SecurityComplianceCenterEOPCmdlet",
        "19" => "ExchangeAggregatedOperation",
        "20" => "PowerBIAudit",
        "25" => "MicrosoftTeams",
        "28" => "ThreatIntelligence",
        "29" => "MailSubmission",
        "30" => "MicrosoftFlow",
        "36" => "SharePointListOperation",
        "40" => "SecurityComplianceAlerts",
        "41" => "ThreatIntelligenceUrl",
        "43" => "MIPLabel",
        "47" => "ThreatIntelligenceAtpContent",
        "50" => "ExchangeItemAggregated",
        "51" => "HygieneEvent",
        "52" => "DataInsightsRestApiAudit",
        "54" => "SharePointListItemOperation",
        "55" => "SharePointContentTypeOperation",
        "56" => "SharePointFieldOperation",
        "57" => "MicrosoftTeamsAdmin",
        "64" => "AirInvestigation",
        "65" => "Quarantine",
        "66" => "MicrosoftForms",
        "82" => "SensitivityLabelPolicyMatch",
        "83" => "SensitivityLabelAction",
        "84" => "SensitivityLabeledFileAction",
        "101" => "ExchangeSearch",
        "102" => "SharePointSearch",
        "261" => "CopilotInteraction",
        "275" => "OWAAuth",
        "294" => "AadRiskDetection",
        _ => return camel_to_pascal(v),
    };
    name
}

/// Graph's camelCase record type names (`exchangeAdmin`) match the PowerShell names but for the
/// first letter; this returns the PowerShell spelling for the common ones.
fn camel_to_pascal(v: &str) -> &str {
    match v {
        "exchangeAdmin" => "ExchangeAdmin",
        "exchangeItem" => "ExchangeItem",
        "exchangeItemGroup" => "ExchangeItemGroup",
        "exchangeItemAggregated" => "ExchangeItemAggregated",
        "sharePoint" => "SharePoint",
        "sharePointFileOperation" => "SharePointFileOperation",
        "sharePointSharingOperation" => "SharePointSharingOperation",
        "oneDrive" => "OneDrive",
        "azureActiveDirectory" => "AzureActiveDirectory",
        "azureActiveDirectoryStsLogon" => "AzureActiveDirectoryStsLogon",
        "azureActiveDirectoryAccountLogon" => "AzureActiveDirectoryAccountLogon",
        "microsoftTeams" => "MicrosoftTeams",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::time::DateOrder;

    fn decode_one(json_text: &str) -> Event {
        decode(
            json_text,
            &mut RowCtx::new(DateOrder::Auto),
            &AuditHints::default(),
        )
        .unwrap()
    }

    #[test]
    fn alert_records_keep_the_alert_name_and_other_records_do_not() {
        let e = decode_one(
            r#"{"CreationTime":"2025-03-04T05:06:07","Id":"a1","Operation":"AlertTriggered","RecordType":40,
            "ResultStatus":"Succeeded","UserKey":"SecurityComplianceAlerts","UserId":"SecurityComplianceAlerts",
            "Workload":"SecurityComplianceCenter","AlertId":"x","AlertType":"System","Category":"ThreatManagement",
            "Name":"Suspicious inbox forwarding","Severity":"Medium","Source":"Cloud App Security","Status":"Active"}"#,
        );
        assert_eq!(e.attr("alert_name"), Some("Suspicious inbox forwarding"));
        assert_eq!(e.attr("record_type"), Some("SecurityComplianceAlerts"));
        assert_eq!(e.outcome, Outcome::Success);

        let e = decode_one(
            r#"{"CreationTime":"2025-03-04T05:06:07","Operation":"AlertEntityGenerated",
            "UserId":"SecurityComplianceAlerts","Name":"Impossible travel activity"}"#,
        );
        assert_eq!(e.attr("alert_name"), Some("Impossible travel activity"));

        let e = decode_one(
            r#"{"CreationTime":"2025-03-04T05:06:07","Operation":"New-InboxRule","RecordType":1,
            "UserId":"u@example.test","Workload":"Exchange","Name":"not an alert"}"#,
        );
        assert_eq!(e.attr("alert_name"), None);
    }

    #[test]
    fn threat_intelligence_records_keep_direction_delivery_and_click_action() {
        let e = decode_one(
            r#"{"CreationTime":"2025-03-04T05:06:07","Operation":"TIMailData","RecordType":28,
            "UserId":"ThreatIntel","Workload":"ThreatIntelligence","Directionality":"Intraorg","DeliveryAction":"Delivered"}"#,
        );
        assert_eq!(e.attr("directionality"), Some("Intraorg"));
        assert_eq!(e.attr("delivery_action"), Some("Delivered"));
        let e = decode_one(
            r#"{"CreationTime":"2025-03-04T05:06:07","Operation":"TIUrlClickData","RecordType":41,
            "UserId":"u@example.test","Workload":"ThreatIntelligence","UrlClickAction":4}"#,
        );
        assert_eq!(e.attr("url_click_action"), Some("4"));
    }
}
