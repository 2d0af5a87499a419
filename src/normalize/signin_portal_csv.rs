//! The Entra admin-center sign-in CSV download (`InteractiveSignIns_*.csv`,
//! `NonInteractiveSignIns_*.csv`, `ApplicationSignIns_*.csv`), English and French headers.
//!
//! The interactive and non-interactive files share one header (docs/formats.md, "Sign-in portal CSV"): the
//! content cannot tell them apart, so the ingest stage passes the file name's hint as `source`
//! and says so in the file report.

use std::borrow::Cow;

use crate::model::{Event, Source};
use crate::normalize::columns::{cell, first_cell, Header};
use crate::normalize::signin::SigninFields;
use crate::normalize::{split_location, Decode, Record, RowCtx, RowError};

/// Column positions resolved once from the header.
pub struct SigninPortalCsv {
    source: Source,
    width: usize,
    time: Option<usize>,
    request_id: Option<usize>,
    user_agent: Option<usize>,
    correlation_id: Option<usize>,
    user_id: Option<usize>,
    display_name: Option<usize>,
    username: Option<usize>,
    user_type: Option<usize>,
    incoming_token_type: Vec<usize>,
    auth_protocol: Option<usize>,
    token_id: Option<usize>,
    transfer_method: Option<usize>,
    app: Option<usize>,
    app_id: Option<usize>,
    resource: Option<usize>,
    resource_id: Option<usize>,
    ip: Option<usize>,
    location: Option<usize>,
    status: Option<usize>,
    error_code: Option<usize>,
    failure_reason: Option<usize>,
    client_app: Option<usize>,
    device_id: Option<usize>,
    browser: Option<usize>,
    os: Option<usize>,
    join_type: Option<usize>,
    mfa_method: Option<usize>,
    auth_requirement: Option<usize>,
    session_id: Option<usize>,
    asn: Option<usize>,
    conditional_access: Option<usize>,
    service_principal: Option<usize>,
}

/// Header names (normalized) that identify this export, English first.
pub const TIME: &[&str] = &["date (utc)", "date (utc+00:00)"];
pub const REQUEST_ID: &[&str] = &["request id", "id de la demande", "id. de solicitud"];

impl SigninPortalCsv {
    pub fn new(h: &Header, source: Source) -> SigninPortalCsv {
        SigninPortalCsv {
            source,
            width: h.len(),
            time: h.find(TIME),
            request_id: h.find(REQUEST_ID),
            user_agent: h.find(&["user agent", "agent utilisateur", "agente de usuario"]),
            correlation_id: h.find(&["correlation id", "id de corrélation", "id. de correlación"]),
            user_id: h.find(&["user id", "id d'utilisateur", "id. de usuario"]),
            display_name: h.find(&["user", "utilisateur", "usuario"]),
            username: h.find(&["username", "nom d'utilisateur", "nombre de usuario"]),
            user_type: h.find(&["user type", "type d'utilisateur"]),
            incoming_token_type: h.find_all("incoming token type"),
            auth_protocol: h.find(&["authentication protocol", "protocole d'authentification"]),
            token_id: h.find(&["unique token identifier", "identificateur de jeton unique"]),
            transfer_method: h
                .find(&["original transfer method", "méthode de transfert d'origine"]),
            app: h.find(&["application", "aplicación"]),
            app_id: h.find(&["application id", "id d'application"]),
            resource: h.find(&["resource", "ressource", "recurso"]),
            resource_id: h.find(&["resource id", "id de ressource"]),
            ip: h.find(&["ip address", "adresse ip", "dirección ip"]),
            location: h.find(&["location", "emplacement", "ubicación"]),
            status: h.find(&["status", "statut", "estado"]),
            error_code: h.find(&["sign-in error code", "code d'erreur de connexion"]),
            failure_reason: h.find(&["failure reason", "raison de l'échec", "motivo del error"]),
            client_app: h.find(&["client app", "application cliente"]),
            device_id: h.find(&["device id", "id de l'appareil"]),
            browser: h.find(&["browser", "navigateur"]),
            os: h.find(&["operating system", "système d'exploitation"]),
            join_type: h.find(&["join type"]),
            mfa_method: h.find(&[
                "multifactor authentication auth method",
                "méthode d'authentification multifacteur",
            ]),
            auth_requirement: h
                .find(&["authentication requirement", "exigence d'authentification"]),
            session_id: h.find(&["session id", "id de session"]),
            asn: h.find(&["autonomous system number", "numéro de système autonome"]),
            conditional_access: h.find(&["conditional access", "accès conditionnel"]),
            service_principal: h.find(&["service principal name"]),
        }
    }
}

impl Decode for SigninPortalCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        if row.len() < self.width {
            return Err(RowError::new(format!(
                "row has {} cells, the header has {}",
                row.len(),
                self.width
            )));
        }
        let c = |i: Option<usize>| -> Option<Cow<str>> {
            let v = cell(row, i);
            (!v.trim().is_empty()).then_some(Cow::Borrowed(v))
        };
        let (city, region, country) = split_location(cell(row, self.location));
        let mut f = SigninFields {
            time: c(self.time).map(|v| ("Date (UTC)", v)),
            upn: c(self.username),
            service_principal: c(self.service_principal),
            user_object_id: c(self.user_id),
            display_name: c(self.display_name),
            user_type: c(self.user_type),
            request_id: c(self.request_id),
            correlation_id: c(self.correlation_id),
            session_id: c(self.session_id),
            token_id: c(self.token_id),
            app: c(self.app),
            app_id: c(self.app_id),
            resource: c(self.resource),
            resource_id: c(self.resource_id),
            ip: c(self.ip),
            city: city.map(|t| Cow::Owned(t.to_string())),
            region: region.map(|t| Cow::Owned(t.to_string())),
            country: country.map(|t| Cow::Owned(t.to_string())),
            asn: c(self.asn),
            error_code: c(self.error_code),
            failure_reason: c(self.failure_reason),
            status_word: c(self.status),
            client_app: c(self.client_app),
            user_agent: c(self.user_agent),
            device_id: c(self.device_id),
            browser: c(self.browser),
            os: c(self.os),
            trust_type: c(self.join_type),
            auth_requirement: c(self.auth_requirement),
            auth_protocol: c(self.auth_protocol),
            incoming_token_type: Some(first_cell(row, &self.incoming_token_type))
                .filter(|v| !v.is_empty())
                .map(Cow::Borrowed),
            transfer_method: c(self.transfer_method),
            conditional_access: c(self.conditional_access),
            ..SigninFields::default()
        };
        if let Some(m) = c(self.mfa_method) {
            f.add_auth_method(&m);
        }
        if f.time.is_none() {
            return Err(RowError::missing("Date (UTC)"));
        }
        out.push(f.into_event(cx, self.source)?);
        Ok(())
    }
}
