//! The attacks, one function per scenario, each written on top of the benign tenant. Every
//! attacker action is marked on the world ([`World::mark`]) so the answer key knows the window
//! and the addresses; every message the attacker sends is flagged in the trace rows.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::export::{App, Place};
use super::tenant::*;

/// How the attacker's browser looks.
const ATTACKER_UAS: [(&str, &str, &str); 4] = [
    ("Chrome", "Windows10", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    ("Edge", "Windows10", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"),
    ("Firefox", "Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"),
    ("Chrome", "MacOs", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
];

/// Client ids of the malicious multi-tenant apps in the consent scenario.
const ROGUE_APP_IDS: [&str; 4] = [
    "7b2e9c41-1f0d-4d8a-9e63-0a5c8f2d4b17",
    "c3a81f6e-52d9-4b07-8e1a-9f4d2c6b0e38",
    "e91d4b2a-7c35-4f68-a0b9-3d2e1f8c6a54",
    "2f6c0e8d-9b14-4a73-b5d2-8e1f7a3c9d60",
];

const LURES: [&str; 6] = [
    "Shared document: remittance advice",
    "You have a new voice message",
    "Action required: review the signed contract",
    "Updated banking details for upcoming payments",
    "Invoice overdue - please review",
    "Document shared with you: Q4 bonus schedule",
];

const LOOKALIKE_SENDERS: [&str; 5] = [
    "docs@sharepoint-filetransfer.example",
    "no-reply@secure-docsign.example",
    "billing@invoice-portal-online.example",
    "voicemail@teams-notify-center.example",
    "admin@m365-securemail.example",
];

/// One attacker's kit: where they are and what their browser says.
pub struct Attacker {
    pub place: Place,
    pub session: String,
    pub browser: &'static str,
    pub os: &'static str,
    pub user_agent: String,
}

impl World {
    /// A person the attack can hit: not an admin, not a shared mailbox, there from the start,
    /// not travelling (so the answer key's window is only the attacker's), not one of the people
    /// on rented networks of their own (a victim who works through a VPN is not modelled).
    pub fn pick_victim(&self, not: &[usize]) -> usize {
        loop {
            let j = 1 + self.g.usize(..self.people.len() - 1);
            let p = &self.people[j];
            let own_rented = p.dedicated.is_some() || p.vpn_exits.is_some();
            if !p.shared
                && !p.admin
                && p.start_day == 0
                && p.trip.is_none()
                && !own_rented
                && !not.contains(&j)
            {
                return j;
            }
        }
    }

    /// An attacker on a hosting network, abroad or at home as the seed decides.
    pub fn hosting_attacker(&self) -> Attacker {
        let net = *self.g.pick(&HOSTING);
        let place = net.place(&self.g);
        self.attacker_with(place)
    }

    pub fn attacker_with(&self, place: Place) -> Attacker {
        let (browser, os, user_agent) = *self.g.pick(&ATTACKER_UAS);
        Attacker {
            place,
            session: self.g.guid(),
            browser,
            os,
            user_agent: user_agent.into(),
        }
    }

    /// A day in the middle of the period and an hour of the victim's working day.
    pub fn attack_time(&self) -> DateTime<Utc> {
        let day = self.days / 2 - 2 + self.g.i64(0..4);
        self.at(day, 8.5 + self.g.f64() * 8.0)
    }

    /// The phishing mail that starts it.
    pub fn phish(&mut self, victim: usize, time: DateTime<Utc>) -> &'static str {
        let lure = *self.g.pick(&LURES);
        let from = *self.g.pick(&LOOKALIKE_SENDERS);
        let host = from
            .split('@')
            .nth(1)
            .unwrap_or("phish.example")
            .to_string();
        let id = self.g.message_id(&host);
        let ip = format!("185.225.{}.{}", self.g.u8(..250), self.g.u8(1..250));
        let upn = self.people[victim].upn.clone();
        self.deliver(time, from, &[upn], lure, &ip, &id, false);
        lure
    }

    /// The attacker's interactive sign-in as the victim (through a proxy or with the password).
    pub fn attacker_signin(
        &mut self,
        victim: usize,
        time: DateTime<Utc>,
        a: &Attacker,
        app: App,
        mfa: &'static str,
        error: (u32, &'static str),
    ) {
        let how = How {
            app,
            session: if error.0 == 0 { &a.session } else { "" },
            interactive: true,
            error,
            mfa,
            client_app: "Browser",
            user_agent: a.user_agent.clone(),
            device_id: String::new(),
            browser: a.browser,
            os: a.os,
            protocol: "none",
        };
        self.signin(victim, time, &a.place, how);
        self.audit_login(
            time + Duration::seconds(2),
            victim,
            &a.place.ip,
            app.1,
            &a.user_agent,
            error.0,
            &a.session,
        );
        if error.0 == 0 {
            self.mark(victim, time, &a.place.ip);
        }
    }

    /// The stolen session refreshing tokens (non-interactive).
    pub fn attacker_refresh(
        &mut self,
        victim: usize,
        time: DateTime<Utc>,
        a: &Attacker,
        app: App,
        user_agent: &str,
    ) {
        let how = How {
            app,
            session: &a.session,
            interactive: false,
            error: (0, ""),
            mfa: "",
            client_app: "Mobile Apps and Desktop clients",
            user_agent: user_agent.into(),
            device_id: String::new(),
            browser: a.browser,
            os: a.os,
            protocol: "none",
        };
        self.signin(victim, time, &a.place, how);
        self.mark(victim, time, &a.place.ip);
    }

    /// The attacker opening messages in the victim's mailbox.
    pub fn attacker_reads(
        &mut self,
        victim: usize,
        time: DateTime<Utc>,
        a: &Attacker,
        client: &str,
        app_id: &str,
        bursts: usize,
    ) {
        let upn = self.people[victim].upn.clone();
        let mut t = time;
        for _ in 0..bursts {
            let n = 3 + self.g.usize(..25);
            self.read_mail(
                t,
                &upn,
                &upn,
                &a.place.ip,
                client,
                &a.session,
                app_id,
                n,
                false,
                0,
            );
            self.mark(victim, t, &a.place.ip);
            t += self.g.secs(60..900);
        }
    }

    /// A rule that hides replies and warnings: moves matching mail out of sight, marked read.
    pub fn hiding_rule(&mut self, victim: usize, time: DateTime<Utc>, a: &Attacker) {
        let name = *self
            .g
            .pick(&[".", "..", "...", "a", "x", ",", "Archive", "RSS"]);
        let folder = *self.g.pick(&[
            "RSS Subscriptions",
            "RSS Feeds",
            "Conversation History",
            "Archive",
            "Deleted Items",
        ]);
        let words = *self.g.pick(&[
            "invoice;payment;bank",
            "hacked;phish;suspicious;spam",
            "wire;transfer;remittance",
            "password;security;IT",
        ]);
        let (ip, session) = (a.place.ip.clone(), a.session.clone());
        self.inbox_rule(
            time,
            victim,
            &ip,
            &session,
            name,
            &[
                ("SubjectOrBodyContainsWords", words),
                ("MoveToFolder", folder),
                ("MarkAsRead", "True"),
                ("StopProcessingRules", "True"),
            ],
        );
        self.mark(victim, time, &ip);
    }

    /// Phishing mail sent from the victim's mailbox to `internal` colleagues and `external`
    /// partner addresses, a few recipients per message. With `audit` the mailbox logs a Send
    /// record (client info, app id) sharing the trace's message id; without it only the trace.
    #[allow(clippy::too_many_arguments)]
    pub fn attacker_sends(
        &mut self,
        victim: usize,
        time: DateTime<Utc>,
        a: &Attacker,
        internal: usize,
        external: usize,
        audit: Option<(&str, &str)>,
        extra: &[String],
    ) -> Vec<String> {
        let mut recipients: Vec<String> = extra.to_vec();
        let mut guard = 0;
        while recipients.len() < extra.len() + internal && guard < 1000 {
            guard += 1;
            let j = self.colleague(victim);
            let upn = self.people[j].upn.clone();
            if !recipients.contains(&upn) {
                recipients.push(upn);
            }
        }
        while recipients.len() < extra.len() + internal + external && guard < 2000 {
            guard += 1;
            let r = self.external_contact();
            if !recipients.contains(&r) {
                recipients.push(r);
            }
        }
        let subject = *self.g.pick(&LURES);
        let upn = self.people[victim].upn.clone();
        let mut t = time;
        let per = 1 + self.g.usize(..4);
        for group in recipients.chunks(per) {
            let (ip, session) = (a.place.ip.clone(), a.session.clone());
            let record = audit.map(|(client, app)| (client, session.as_str(), app));
            self.send(t, &upn, group, subject, &ip, record, true);
            self.mark(victim, t, &ip);
            t += self.g.secs(30..240);
        }
        recipients
    }

    /// The victim's own ordinary mail while the attacker is in: from their usual place and
    /// client, to people the attacker did not write to. These recipients must not be notified.
    pub fn own_sends_in_window(&mut self, victim: usize) {
        let upn = self.people[victim].upn.clone();
        let Some(times) = self.attacker_times.get(&upn) else {
            return;
        };
        let (Some(first), Some(last)) = (times.iter().min().copied(), times.iter().max().copied())
        else {
            return;
        };
        let span = (last - first).num_seconds().max(4);
        let p = self.people[victim].clone();
        let session = self.g.guid();
        let how = self.desktop_how(victim, &session, false);
        self.signin(victim, first + Duration::seconds(span / 5), &p.home, how);
        for k in 1..=2 {
            let t = first + Duration::seconds(span * k / 3);
            let first_name = p.upn.split('.').next().unwrap_or("x");
            let to = vec![format!(
                "{}.{}@{}",
                first_name,
                self.g.pick(&["meyer", "santos", "brooks", "nakamura"]),
                self.g.pick(&PARTNERS)
            )];
            let subject = *self.g.pick(&SUBJECTS);
            self.send(
                t,
                &p.upn,
                &to,
                subject,
                &p.home.ip,
                Some(("Client=MSExchangeRPC", &session, OFFICE_DESKTOP.1)),
                false,
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // The scenarios.

    /// Adversary-in-the-middle phishing through OfficeHome.
    pub fn aitm(&mut self) {
        let victim = self.pick_victim(&[]);
        let a = self.hosting_attacker();
        self.aitm_on(victim, &a, self.attack_time(), 6, 18);
    }

    fn aitm_on(
        &mut self,
        victim: usize,
        a: &Attacker,
        t0: DateTime<Utc>,
        internal: usize,
        external: usize,
    ) -> Vec<String> {
        self.phish(victim, t0 - self.g.secs(300..2400));
        let mfa = *self.g.pick(&[
            "Mobile app notification",
            "Text message",
            "OATH verification code",
        ]);
        self.attacker_signin(victim, t0, a, OFFICE_HOME, mfa, (0, ""));
        let mut t = t0 + self.g.secs(120..600);
        for _ in 0..self.g.usize(2..6) {
            let ua = a.user_agent.clone();
            self.attacker_refresh(victim, t, a, OWA, &ua);
            t += self.g.secs(600..3000);
        }
        let t = t0 + self.g.secs(300..900);
        self.attacker_reads(
            victim,
            t,
            a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            3 + self.g.usize(..4),
        );
        self.hiding_rule(victim, t + self.g.secs(60..600), a);
        let t = t + self.g.secs(1200..3600);
        let internal = internal.min(self.g.usize(internal / 2..internal + 1));
        let sent = self.attacker_sends(
            victim,
            t,
            a,
            internal,
            external.min(4 + self.g.usize(..external)),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(victim);
        sent
    }

    /// A stolen refresh token replayed from another network: only non-interactive sign-ins.
    pub fn token_replay(&mut self) {
        let victim = self.pick_victim(&[]);
        let p = self.people[victim].clone();
        let t0 = self.attack_time();
        // The victim's own session, which the infostealer on their computer copies.
        let session = self.g.guid();
        let how = How {
            mfa: "Mobile app notification",
            ..self.desktop_how(victim, &session, true)
        };
        self.signin(victim, t0 - Duration::hours(3), &p.home, how);
        let mut a = self.hosting_attacker();
        a.session = session;
        let ua = *self.g.pick(&["Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17628; Pro)", "python-requests/2.32.3", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"]);
        let mut t = t0;
        for _ in 0..4 + self.g.usize(..8) {
            let app = *self.g.pick(&[OFFICE_DESKTOP, OWA, GRAPH_EXPLORER_LIKE]);
            self.attacker_refresh(victim, t, &a, app, ua);
            t += self.g.secs(900..5400);
        }
        self.attacker_reads(
            victim,
            t0 + self.g.secs(60..600),
            &a,
            "Client=REST;Client=RESTSystem;;",
            OFFICE_DESKTOP.1,
            2 + self.g.usize(..4),
        );
        self.attacker_sends(
            victim,
            t0 + self.g.secs(1800..4000),
            &a,
            2 + self.g.usize(..5),
            5 + self.g.usize(..10),
            Some(("Client=REST;Client=RESTSystem;;", OFFICE_DESKTOP.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// A password spray from a hosting address that lands on one account without MFA.
    pub fn spray_success(&mut self) {
        let victim = self.pick_victim(&[]);
        let a = self.hosting_attacker();
        let t0 = self.attack_time();
        let mut t = t0 - Duration::minutes(40);
        let mut sprayed = Vec::new();
        while sprayed.len() < 15 + self.g.usize(..15) {
            let j = self.colleague(victim);
            if !sprayed.contains(&j) {
                sprayed.push(j);
            }
        }
        sprayed.insert(self.g.usize(..sprayed.len()), victim);
        for &j in &sprayed {
            t += self.g.secs(10..120);
            if j == victim {
                let how = How {
                    app: OWA,
                    session: &a.session,
                    interactive: true,
                    error: (0, ""),
                    mfa: "",
                    client_app: "Browser",
                    user_agent: a.user_agent.clone(),
                    device_id: String::new(),
                    browser: a.browser,
                    os: a.os,
                    protocol: "none",
                };
                self.signin(j, t, &a.place, how);
                self.audit_login(
                    t + Duration::seconds(1),
                    j,
                    &a.place.ip,
                    OWA.1,
                    &a.user_agent,
                    0,
                    &a.session,
                );
                self.mark(j, t, &a.place.ip);
            } else {
                self.attacker_signin(j, t, &a, OWA, "", BAD_PASSWORD);
                let upn = self.people[j].upn.clone();
                self.targeted.insert(upn);
            }
        }
        let t = t0 + self.g.secs(300..1200);
        self.attacker_reads(
            victim,
            t,
            &a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..4),
        );
        if self.g.chance(0.5) {
            self.hiding_rule(victim, t + self.g.secs(60..600), &a);
        }
        self.attacker_sends(
            victim,
            t + self.g.secs(900..3000),
            &a,
            3 + self.g.usize(..6),
            4 + self.g.usize(..12),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Push bombing: the password is known, the victim finally approves a prompt.
    pub fn mfa_fatigue(&mut self) {
        let victim = self.pick_victim(&[]);
        let a = self.hosting_attacker();
        let t0 = self.attack_time();
        let prompts = 8 + self.g.usize(..15);
        let mut t = t0 - Duration::minutes(prompts as i64 * 2 + 5);
        for _ in 0..prompts {
            let error = if self.g.chance(0.2) {
                MFA_REQUIRED
            } else {
                MFA_DENIED
            };
            self.attacker_signin(victim, t, &a, OFFICE_HOME, "Mobile app notification", error);
            t += self.g.secs(40..200);
        }
        self.attacker_signin(
            victim,
            t,
            &a,
            OFFICE_HOME,
            "Mobile app notification",
            (0, ""),
        );
        let upn = self.people[victim].upn.clone();
        let t1 = t + self.g.secs(120..600);
        self.audit(t1, 8, "User registered security info.", &upn, json!({
            "ResultStatus": "Success", "ObjectId": upn, "ActorIpAddress": a.place.ip, "ClientIP": a.place.ip, "AzureActiveDirectoryEventType": 1,
            "ModifiedProperties": [{"Name": "StrongAuthenticationMethod", "NewValue": "[{\"MethodType\":6,\"Default\":true},{\"MethodType\":7,\"Default\":false}]", "OldValue": "[{\"MethodType\":6,\"Default\":true}]"}],
            "Actor": [{"ID": upn, "Type": 5}], "Target": [{"ID": upn, "Type": 5}],
        }));
        self.mark(victim, t1, &a.place.ip.clone());
        self.attacker_reads(
            victim,
            t1 + self.g.secs(60..600),
            &a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..4),
        );
        self.attacker_sends(
            victim,
            t1 + self.g.secs(900..2400),
            &a,
            2 + self.g.usize(..5),
            5 + self.g.usize(..10),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Device-code phishing: the victim enters the attacker's code at microsoft.com/devicelogin
    /// (the interactive sign-in is the victim's own address); the tokens are then used elsewhere.
    pub fn device_code(&mut self) {
        let victim = self.pick_victim(&[]);
        let p = self.people[victim].clone();
        let mut a = self.hosting_attacker();
        let t0 = self.attack_time();
        self.phish(victim, t0 - self.g.secs(300..1800));
        let app = *self.g.pick(&[AUTH_BROKER, OFFICE_DESKTOP]);
        let how = How {
            app,
            session: &a.session,
            interactive: true,
            error: (0, ""),
            mfa: "Mobile app notification",
            client_app: "Mobile Apps and Desktop clients",
            user_agent: p.user_agent.clone(),
            device_id: String::new(),
            browser: p.browser,
            os: if p.desktop == Desktop::Mac {
                "MacOs"
            } else {
                "Windows10"
            },
            protocol: "deviceCode",
        };
        self.signin(victim, t0, &p.home, how);
        self.audit_login(
            t0 + Duration::seconds(2),
            victim,
            &p.home.ip,
            app.1,
            &p.user_agent,
            0,
            &a.session,
        );
        self.mark_time(victim, t0);
        a.user_agent = "python-requests/2.32.3".into();
        let mut t = t0 + self.g.secs(30..300);
        for _ in 0..3 + self.g.usize(..6) {
            self.attacker_refresh(victim, t, &a, GRAPH_EXPLORER_LIKE, "python-requests/2.32.3");
            t += self.g.secs(900..3600);
        }
        self.attacker_reads(
            victim,
            t0 + self.g.secs(300..900),
            &a,
            "Client=REST;Client=RESTSystem;;",
            app.1,
            3 + self.g.usize(..4),
        );
        self.attacker_sends(
            victim,
            t0 + self.g.secs(1200..3600),
            &a,
            3 + self.g.usize(..6),
            3 + self.g.usize(..8),
            Some(("Client=REST;Client=RESTSystem;;", app.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Illicit consent: the victim grants a malicious app Mail.Read and Mail.Send; the app then
    /// reads and sends through Graph from a hosting network, with no sign-in of the user's.
    pub fn illicit_consent(&mut self) {
        let victim = self.pick_victim(&[]);
        let p = self.people[victim].clone();
        let mut a = self.hosting_attacker();
        a.session = String::new();
        let app_name = *self.g.pick(&[
            "Document Viewer Pro",
            "Secure PDF Reader",
            "Mail Archive Assistant",
            "eSign Connect",
        ]);
        let app_id = *self.g.pick(&ROGUE_APP_IDS);
        let t0 = self.attack_time();
        self.phish(victim, t0 - self.g.secs(300..1800));
        let session = self.g.guid();
        let app: App = (
            app_name,
            app_id,
            "Microsoft Graph",
            "00000003-0000-0000-c000-000000000000",
        );
        let how = How {
            app,
            ..self.desktop_how(victim, &session, true)
        };
        self.signin(victim, t0, &p.home, how);
        let upn = p.upn.clone();
        let sp_id = self.g.guid();
        self.audit(t0 + Duration::seconds(40), 8, "Consent to application.", &upn, json!({
            "ResultStatus": "Success", "ObjectId": sp_id, "ActorIpAddress": p.home.ip, "ClientIP": p.home.ip, "AzureActiveDirectoryEventType": 1,
            "ModifiedProperties": [
                {"Name": "ConsentContext.IsAdminConsent", "NewValue": "False", "OldValue": ""},
                {"Name": "ConsentContext.OnBehalfOfAll", "NewValue": "False", "OldValue": ""},
                {"Name": "ConsentAction.Permissions", "NewValue": format!("[] => [[Id: {}, ClientId: {sp_id}, PrincipalId: {}, ResourceId: 5a1c0d2e-6b0f-4a43-9f62-1a2b3c4d5e6f, ConsentType: Principal, Scope: User.Read Mail.Read Mail.Send offline_access, CreatedDateTime: , LastModifiedDateTime ]]; ", self.g.token(), p.object_id), "OldValue": ""},
                {"Name": "TargetId.ServicePrincipalNames", "NewValue": app_id, "OldValue": ""},
            ],
            "Actor": [{"ID": upn, "Type": 5}], "Target": [{"ID": sp_id, "Type": 2}, {"ID": app_name, "Type": 1}],
        }));
        self.audit(t0 + Duration::seconds(41), 8, "Add delegated permission grant.", &upn, json!({
            "ResultStatus": "Success", "ObjectId": sp_id, "ActorIpAddress": p.home.ip, "ClientIP": p.home.ip, "AzureActiveDirectoryEventType": 1,
            "ModifiedProperties": [{"Name": "DelegatedPermissionGrant.Scope", "NewValue": "User.Read Mail.Read Mail.Send offline_access", "OldValue": ""}],
            "Actor": [{"ID": upn, "Type": 5}], "Target": [{"ID": sp_id, "Type": 2}],
        }));
        self.mark_time(victim, t0);
        // The app at work, for days.
        let mut t = t0 + self.g.secs(600..3600);
        let end = self.at(self.days - 1, 12.0);
        while t < end {
            let how = How {
                app,
                session: "",
                interactive: false,
                error: (0, ""),
                mfa: "",
                client_app: "Mobile Apps and Desktop clients",
                user_agent: "python-requests/2.32.3".into(),
                device_id: String::new(),
                browser: "",
                os: "",
                protocol: "none",
            };
            let place = a.place.clone();
            self.signin(victim, t, &place, how);
            self.mark(victim, t, &place.ip);
            self.attacker_reads(
                victim,
                t + self.g.secs(5..60),
                &a,
                "Client=REST;Client=RESTSystem;;",
                app_id,
                1 + self.g.usize(..3),
            );
            t += self.g.secs(4 * 3600..14 * 3600);
        }
        self.attacker_sends(
            victim,
            t0 + self.g.secs(7200..20_000),
            &a,
            2 + self.g.usize(..5),
            4 + self.g.usize(..10),
            Some(("Client=REST;Client=RESTSystem;;", app_id)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Legacy protocols: IMAP or POP download and SMTP sending with the password only.
    pub fn legacy_exfil(&mut self) {
        let victim = self.pick_victim(&[]);
        let mut a = self.hosting_attacker();
        a.session = String::new();
        let t0 = self.attack_time();
        let (proto, client) = *self
            .g
            .pick(&[("IMAP4", "Client=IMAP4"), ("POP3", "Client=POP3")]);
        let mut t = t0;
        for _ in 0..3 + self.g.usize(..5) {
            let how = How {
                app: OWA,
                session: "",
                interactive: true,
                error: (0, ""),
                mfa: "",
                client_app: proto,
                user_agent: "BAV2ROPC".into(),
                device_id: String::new(),
                browser: "",
                os: "",
                protocol: "ropc",
            };
            let place = a.place.clone();
            self.signin(victim, t, &place, how);
            self.audit_login(
                t + Duration::seconds(1),
                victim,
                &place.ip,
                OWA.1,
                "BAV2ROPC",
                0,
                "",
            );
            self.mark(victim, t, &place.ip);
            self.attacker_reads(
                victim,
                t + self.g.secs(5..60),
                &a,
                client,
                OWA.1,
                2 + self.g.usize(..4),
            );
            t += self.g.secs(1200..7200);
        }
        // SMTP AUTH submissions: a sign-in, then trace rows; no mailbox Send record.
        let how = How {
            app: OWA,
            session: "",
            interactive: true,
            error: (0, ""),
            mfa: "",
            client_app: "Authenticated SMTP",
            user_agent: "BAV2ROPC".into(),
            device_id: String::new(),
            browser: "",
            os: "",
            protocol: "ropc",
        };
        let place = a.place.clone();
        self.signin(victim, t, &place, how);
        self.attacker_sends(
            victim,
            t + Duration::seconds(20),
            &a,
            1 + self.g.usize(..4),
            6 + self.g.usize(..12),
            None,
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Only the audit log was exported; the attacker creates dozens of hiding rules in minutes.
    pub fn audit_only_rule_burst(&mut self) {
        self.no_signin_export = true;
        let victim = self.pick_victim(&[]);
        let a = self.hosting_attacker();
        let t0 = self.attack_time();
        self.audit_login(
            t0,
            victim,
            &a.place.ip,
            OFFICE_HOME.1,
            &a.user_agent,
            0,
            &a.session,
        );
        self.mark(victim, t0, &a.place.ip);
        let folder = *self
            .g
            .pick(&["Unread", "RSS Feeds", "Conversation History", "Notes"]);
        let mut t = t0 + self.g.secs(120..600);
        let (ip, session) = (a.place.ip.clone(), a.session.clone());
        for k in 0..25 + self.g.usize(..40) {
            let from = format!(
                "{}@{}",
                PARTNER_CONTACTS[k % PARTNER_CONTACTS.len()],
                PARTNERS[(k / PARTNER_CONTACTS.len()) % PARTNERS.len()]
            );
            let name = format!(
                "{}{}",
                self.g.pick(&["", ".", "_"]),
                PARTNERS[k % PARTNERS.len()]
                    .split('.')
                    .next()
                    .unwrap_or("r")
            );
            self.inbox_rule(
                t,
                victim,
                &ip,
                &session,
                &name,
                &[
                    ("From", from.as_str()),
                    ("MoveToFolder", folder),
                    ("MarkAsRead", "True"),
                    ("StopProcessingRules", "True"),
                ],
            );
            self.mark(victim, t, &ip);
            t += self.g.secs(3..25);
        }
        self.attacker_reads(
            victim,
            t + self.g.secs(60..600),
            &a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..4),
        );
        self.attacker_sends(
            victim,
            t + self.g.secs(900..3000),
            &a,
            1 + self.g.usize(..4),
            3 + self.g.usize(..10),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }

    /// Internal phishing from a first victim takes over a second account.
    pub fn internal_phish(&mut self) {
        let first = self.pick_victim(&[]);
        let second = self.pick_victim(&[first]);
        let a = self.hosting_attacker();
        let t0 = self.attack_time();
        self.phish(first, t0 - self.g.secs(300..2400));
        self.attacker_signin(
            first,
            t0,
            &a,
            OFFICE_HOME,
            "Mobile app notification",
            (0, ""),
        );
        self.attacker_reads(
            first,
            t0 + self.g.secs(120..600),
            &a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..3),
        );
        self.hiding_rule(first, t0 + self.g.secs(700..900), &a);
        let second_upn = self.people[second].upn.clone();
        let t1 = t0 + self.g.secs(1000..2400);
        self.attacker_sends(
            first,
            t1,
            &a,
            5 + self.g.usize(..8),
            1 + self.g.usize(..4),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[second_upn],
        );
        // The colleague opens it and signs in through the same kit, from another proxy node.
        let net = *self.g.pick(&HOSTING);
        let place = net.place(&self.g);
        let b = self.attacker_with(place);
        let t2 = t1 + self.g.secs(1800..7200);
        self.attacker_signin(
            second,
            t2,
            &b,
            OFFICE_HOME,
            "Mobile app notification",
            (0, ""),
        );
        self.attacker_reads(
            second,
            t2 + self.g.secs(120..600),
            &b,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..3),
        );
        self.hiding_rule(second, t2 + self.g.secs(700..900), &b);
        self.attacker_sends(
            second,
            t2 + self.g.secs(1000..2400),
            &b,
            1 + self.g.usize(..3),
            5 + self.g.usize(..10),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(first);
        self.own_sends_in_window(second);
    }

    /// AiTM through a residential proxy in the victim's own country, on the same kind of ISP.
    pub fn residential_proxy(&mut self) {
        let victim = self.pick_victim(&[]);
        let net = *self.g.pick(self.country.residential);
        let place = net.place(&self.g);
        let mut a = self.attacker_with(place);
        let p = self.people[victim].clone();
        // The kit replays the victim's own browser string.
        a.user_agent = p.user_agent;
        a.browser = p.browser;
        self.aitm_on(victim, &a, self.attack_time(), 4, 12);
    }

    /// A patient attacker: a few minutes a day, every day, from rotating addresses.
    pub fn slow_attacker(&mut self) {
        let victim = self.pick_victim(&[]);
        let residential = self.g.chance(0.5);
        let nodes: Vec<Place> = (0..3)
            .map(|_| {
                let net = if residential {
                    *self.g.pick(self.country.residential)
                } else {
                    *self.g.pick(&HOSTING)
                };
                net.place(&self.g)
            })
            .collect();
        let mut a = self.attacker_with(nodes[0].clone());
        let t0 = self.at(1, 9.0 + self.g.f64() * 8.0);
        self.phish(victim, t0 - self.g.secs(300..1800));
        self.attacker_signin(
            victim,
            t0,
            &a,
            OFFICE_HOME,
            "Mobile app notification",
            (0, ""),
        );
        let hour = self.g.f64() * 24.0;
        for day in 2..self.days {
            a.place = nodes[day as usize % nodes.len()].clone();
            let t = self.at(day, hour) + self.g.secs(0..1800);
            let ua = a.user_agent.clone();
            self.attacker_refresh(victim, t, &a, OWA, &ua);
            let upn = self.people[victim].upn.clone();
            let n = 2 + self.g.usize(..8);
            let read = t + self.g.secs(20..240);
            self.read_mail(
                read,
                &upn,
                &upn,
                &a.place.ip,
                "Client=OWA;Action=ViaProxy",
                &a.session,
                OWA.1,
                n,
                false,
                0,
            );
            self.mark(victim, read, &a.place.ip.clone());
            if day % 3 == 0 {
                self.attacker_sends(
                    victim,
                    t + self.g.secs(240..400),
                    &a,
                    0,
                    1 + self.g.usize(..2),
                    Some(("Client=OWA;Action=ViaProxy", OWA.1)),
                    &[],
                );
            }
        }
        self.own_sends_in_window(victim);
    }

    /// A spray seen only in the audit log's sign-in records, then one success.
    pub fn audit_only_spray(&mut self) {
        self.no_signin_export = true;
        let victim = self.pick_victim(&[]);
        let a = self.hosting_attacker();
        let t0 = self.attack_time();
        let mut t = t0 - Duration::minutes(30);
        let mut sprayed = Vec::new();
        while sprayed.len() < 12 + self.g.usize(..18) {
            let j = self.colleague(victim);
            if !sprayed.contains(&j) {
                sprayed.push(j);
            }
        }
        for &j in &sprayed {
            t += self.g.secs(5..60);
            self.audit_login(t, j, &a.place.ip, OWA.1, &a.user_agent, 50126, "");
            let upn = self.people[j].upn.clone();
            self.targeted.insert(upn);
        }
        self.audit_login(t0, victim, &a.place.ip, OWA.1, &a.user_agent, 0, &a.session);
        self.mark(victim, t0, &a.place.ip);
        self.attacker_reads(
            victim,
            t0 + self.g.secs(120..600),
            &a,
            "Client=OWA;Action=ViaProxy",
            OWA.1,
            2 + self.g.usize(..4),
        );
        self.attacker_sends(
            victim,
            t0 + self.g.secs(900..3000),
            &a,
            2 + self.g.usize(..5),
            3 + self.g.usize(..10),
            Some(("Client=OWA;Action=ViaProxy", OWA.1)),
            &[],
        );
        self.own_sends_in_window(victim);
    }
}
