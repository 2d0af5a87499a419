//! Writes evidence in the real export formats (docs/formats.md), for the bundled demo case and
//! for benchmarks. Output is deterministic: the same arguments give the same bytes.
//!
//!     cargo run --release --example generate -- demo fixtures/demo
//!     cargo run --release --example generate -- synthetic /tmp/breachline-synth \
//!         [--audit-rows 1000000] [--signin-rows 1000000] [--trace-rows 200000] [--seed 7]
//!
//! `demo` writes a 36-user tenant over two weeks in which one account is taken over by AiTM
//! phishing, with `answer_key.toml` and `ANSWER_KEY.md` computed from the generated records.
//! `synthetic` writes a large set (Purview audit CSV, portal sign-in CSV, Graph non-interactive
//! JSON lines, Get-MessageTraceV2 CSV) for `benches/run.sh`.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Records, as the generator knows them before writing them in an export format.

/// One Entra sign-in.
#[derive(Clone)]
struct SignIn {
    time: DateTime<Utc>,
    upn: String,
    name: String,
    user_id: String,
    request_id: String,
    correlation_id: String,
    session_id: String,
    token_id: String,
    app: &'static str,
    app_id: &'static str,
    resource: &'static str,
    resource_id: &'static str,
    place: Place,
    error_code: u32,
    failure_reason: &'static str,
    client_app: &'static str,
    user_agent: String,
    device_id: String,
    browser: &'static str,
    os: &'static str,
    mfa_method: &'static str,
    interactive: bool,
}

/// Where an IP is, as Entra exports it.
#[derive(Clone)]
struct Place {
    ip: String,
    city: &'static str,
    state: &'static str,
    country: &'static str,
    asn: u32,
}

/// One unified audit log record.
struct Audit {
    time: DateTime<Utc>,
    id: String,
    record_type: u32,
    operation: String,
    user_id: String,
    data: Value,
}

/// One message-trace row (one recipient).
#[derive(Clone)]
struct Mail {
    time: DateTime<Utc>,
    sender: String,
    recipient: String,
    subject: String,
    status: &'static str,
    from_ip: String,
    to_ip: String,
    size: u32,
    message_id: String,
    trace_id: String,
}

// ---------------------------------------------------------------------------------------------
// Export writers.

/// The Entra admin center sign-in CSV header (docs/formats.md): 57 columns, `Incoming token type`
/// twice, trailing spaces in two names and a double space in one.
const PORTAL_HEADER: &str = "Date (UTC),Request ID,User agent,Correlation ID,User ID,User,Username,User type,Cross tenant access type,Incoming token type,Authentication Protocol,Unique token identifier,Original transfer method,Client credential type,Token Protection - Sign In Session,Token Protection - Sign In Session StatusCode,Application,Application ID ,App owner tenant ID,Resource,Resource ID ,Resource tenant ID,Resource owner tenant ID,Home tenant ID,Home tenant name,IP address,Location,Status,Sign-in error code,Failure reason,Client app,Device ID,Browser,Operating System,Compliant,Managed,Join Type,Multifactor authentication result,Multifactor authentication auth method,Multifactor authentication auth detail,Authentication requirement,Sign-in identifier,Session ID,IP address (seen by resource),Through Global Secure Access,Global Secure Access IP address,Autonomous system  number,Flagged for review,Token issuer type,Incoming token type,Token issuer name,Latency,Conditional Access,Managed Identity type,Associated Resource Id,Federated Token Id,Federated Token Issuer";

fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `M/d/yyyy h:mm:ss AM` as en-US PowerShell and the Purview portal write it.
fn us_date(t: &DateTime<Utc>) -> String {
    let (pm, h) = t.hour12();
    format!(
        "{}/{}/{} {}:{:02}:{:02} {}",
        t.month(),
        t.day(),
        t.year(),
        h,
        t.minute(),
        t.second(),
        if pm { "PM" } else { "AM" }
    )
}

fn csv_writer(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file))
}

fn portal_row(s: &SignIn, tenant: &str) -> Vec<String> {
    let status = match s.error_code {
        0 => "Success",
        50074 | 50076 | 50140 => "Interrupted",
        _ => "Failure",
    };
    let mut row: Vec<String> = Vec::with_capacity(57);
    let mut incoming_seen = false;
    for column in PORTAL_HEADER.split(',') {
        let v = match column {
            "Date (UTC)" => iso(&s.time),
            "Request ID" => s.request_id.clone(),
            "User agent" => s.user_agent.clone(),
            "Correlation ID" => s.correlation_id.clone(),
            "User ID" => s.user_id.clone(),
            "User" => s.name.clone(),
            "Username" | "Sign-in identifier" => s.upn.clone(),
            "User type" => "Member".into(),
            "Cross tenant access type" => "none".into(),
            "Incoming token type" => {
                let v = if incoming_seen {
                    ""
                } else if s.interactive {
                    "none"
                } else {
                    "refreshToken"
                };
                incoming_seen = true;
                v.into()
            }
            "Authentication Protocol" => "none".into(),
            "Unique token identifier" => s.token_id.clone(),
            "Application" => s.app.into(),
            "Application ID " => s.app_id.into(),
            "Resource" => s.resource.into(),
            "Resource ID " => s.resource_id.into(),
            "Resource tenant ID" | "Home tenant ID" => tenant.into(),
            "IP address" => s.place.ip.clone(),
            "Location" => format!("{}, {}, {}", s.place.city, s.place.state, s.place.country),
            "Status" => status.into(),
            "Sign-in error code" => {
                if s.error_code == 0 {
                    String::new()
                } else {
                    s.error_code.to_string()
                }
            }
            "Failure reason" => s.failure_reason.into(),
            "Client app" => s.client_app.into(),
            "Device ID" => s.device_id.clone(),
            "Browser" => s.browser.into(),
            "Operating System" => s.os.into(),
            "Compliant" | "Managed" | "Flagged for review" => "false".into(),
            "Join Type" => {
                if s.device_id.is_empty() {
                    String::new()
                } else {
                    "Microsoft Entra registered".into()
                }
            }
            "Multifactor authentication result" => {
                if s.mfa_method.is_empty() {
                    String::new()
                } else {
                    "MFA completed in Microsoft Entra ID".into()
                }
            }
            "Multifactor authentication auth method" => s.mfa_method.into(),
            "Authentication requirement" => {
                if s.mfa_method.is_empty() {
                    "singleFactorAuthentication".into()
                } else {
                    "multiFactorAuthentication".into()
                }
            }
            "Session ID" => s.session_id.clone(),
            "Autonomous system  number" => s.place.asn.to_string(),
            "Token issuer type" => "AzureAD".into(),
            "Latency" => "93".into(),
            "Conditional Access" => "notApplied".into(),
            _ => String::new(),
        };
        row.push(v);
    }
    row
}

fn write_portal_csv(path: &Path, signins: &[SignIn], tenant: &str) -> io::Result<usize> {
    let mut w = csv_writer(path)?;
    w.write_record(PORTAL_HEADER.split(','))?;
    for s in signins {
        w.write_record(portal_row(s, tenant))?;
    }
    w.flush()?;
    Ok(signins.len())
}

fn graph_signin(s: &SignIn) -> Value {
    let mut details = vec![
        json!({"authenticationStepDateTime": iso(&s.time), "authenticationMethod": "Previously satisfied",
        "succeeded": s.error_code == 0, "authenticationStepResultDetail": "First factor requirement satisfied by claim in the token"}),
    ];
    if !s.mfa_method.is_empty() {
        details.push(json!({"authenticationStepDateTime": iso(&s.time), "authenticationMethod": s.mfa_method, "succeeded": true,
            "authenticationStepResultDetail": "MFA completed in Microsoft Entra ID"}));
    }
    json!({
        "id": s.request_id, "createdDateTime": iso(&s.time), "userDisplayName": s.name, "userPrincipalName": s.upn,
        "userId": s.user_id, "appId": s.app_id, "appDisplayName": s.app, "ipAddress": s.place.ip,
        "clientAppUsed": s.client_app, "userAgent": s.user_agent, "correlationId": s.correlation_id,
        "conditionalAccessStatus": "notApplied", "isInteractive": s.interactive,
        "signInEventTypes": [if s.interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "riskLevelDuringSignIn": "none", "riskState": "none", "resourceDisplayName": s.resource, "resourceId": s.resource_id,
        "authenticationRequirement": if s.mfa_method.is_empty() { "singleFactorAuthentication" } else { "multiFactorAuthentication" },
        "incomingTokenType": if s.interactive { "none" } else { "refreshToken" },
        "autonomousSystemNumber": s.place.asn, "sessionId": s.session_id, "uniqueTokenIdentifier": s.token_id,
        "status": {"errorCode": s.error_code, "failureReason": if s.failure_reason.is_empty() { Value::Null } else { json!(s.failure_reason) }},
        "deviceDetail": {"deviceId": s.device_id, "displayName": "", "operatingSystem": s.os, "browser": s.browser,
            "isCompliant": false, "isManaged": false, "trustType": ""},
        "location": {"city": s.place.city, "state": s.place.state, "countryOrRegion": s.place.country},
        "authenticationDetails": details,
    })
}

fn write_graph_jsonl(path: &Path, signins: &[SignIn]) -> io::Result<usize> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    for s in signins {
        serde_json::to_writer(&mut w, &graph_signin(s))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(signins.len())
}

fn write_purview_csv(path: &Path, records: &[&Audit]) -> io::Result<usize> {
    let mut w = csv_writer(path)?;
    w.write_record([
        "RecordId",
        "CreationDate",
        "RecordType",
        "Operation",
        "UserId",
        "AuditData",
        "AssociatedAdminUnits",
        "AssociatedAdminUnitsNames",
    ])?;
    for a in records {
        w.write_record([
            a.id.as_str(),
            &us_date(&a.time),
            &a.record_type.to_string(),
            &a.operation,
            &a.user_id,
            &a.data.to_string(),
            "",
            "",
        ])?;
    }
    w.flush()?;
    Ok(records.len())
}

fn write_trace_v2(path: &Path, mails: &[Mail]) -> io::Result<usize> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    file.write_all(&[0xEF, 0xBB, 0xBF])?; // MES under Windows PowerShell writes UTF-8 with a BOM
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(file);
    w.write_record([
        "Received",
        "SenderAddress",
        "RecipientAddress",
        "Subject",
        "Status",
        "ToIP",
        "FromIP",
        "Size",
        "MessageId",
        "MessageTraceId",
    ])?;
    for m in mails {
        w.write_record([
            us_date(&m.time),
            m.sender.clone(),
            m.recipient.clone(),
            m.subject.clone(),
            m.status.into(),
            m.to_ip.clone(),
            m.from_ip.clone(),
            m.size.to_string(),
            m.message_id.clone(),
            m.trace_id.clone(),
        ])?;
    }
    w.flush()?;
    Ok(mails.len())
}

// ---------------------------------------------------------------------------------------------
// Randomness and ids.

struct Gen {
    rng: fastrand::Rng,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn guid(&mut self) -> String {
        let r = &mut self.rng;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            r.u32(..),
            r.u16(..),
            r.u16(..0x1000),
            8 + r.u8(..4),
            r.u16(..0x1000),
            r.u64(..1 << 48)
        )
    }

    fn token(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        (0..22)
            .map(|_| ALPHABET[self.rng.usize(..ALPHABET.len())] as char)
            .collect()
    }

    fn message_id(&mut self, host: &str) -> String {
        format!(
            "<{}{:08X}@{host}>",
            host.split('.').next().unwrap_or("MSG").to_uppercase(),
            self.rng.u32(..)
        )
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn secs(&mut self, range: std::ops::Range<i64>) -> Duration {
        Duration::seconds(self.rng.i64(range))
    }
}

// ---------------------------------------------------------------------------------------------
// The demo tenant.

const TENANT_ID: &str = "7d3f0c52-9a41-4e8b-b1c6-2f5e8a9d0c13";
const DOMAIN: &str = "northwindtraders.example";
const ORG_NAME: &str = "northwindtraders.onmicrosoft.com";
const VICTIM: &str = "priya.natarajan";
const ADMIN: &str = "it.admin";
const TRAVELLER: &str = "diego.ramirez";
const MFA_DENIER: &str = "grace.kim";

const NAMES: [(&str, &str); 36] = [
    ("priya.natarajan", "Priya Natarajan"),
    ("it.admin", "IT Admin"),
    ("diego.ramirez", "Diego Ramirez"),
    ("grace.kim", "Grace Kim"),
    ("marcus.bell", "Marcus Bell"),
    ("elena.petrova", "Elena Petrova"),
    ("tom.okafor", "Tom Okafor"),
    ("sara.lindqvist", "Sara Lindqvist"),
    ("james.whitfield", "James Whitfield"),
    ("aisha.rahman", "Aisha Rahman"),
    ("luca.bianchi", "Luca Bianchi"),
    ("hannah.schmidt", "Hannah Schmidt"),
    ("kenji.watanabe", "Kenji Watanabe"),
    ("olivia.brennan", "Olivia Brennan"),
    ("noah.fischer", "Noah Fischer"),
    ("fatima.zahra", "Fatima Zahra"),
    ("ben.carter", "Ben Carter"),
    ("chloe.martin", "Chloe Martin"),
    ("raj.mehta", "Raj Mehta"),
    ("emily.nguyen", "Emily Nguyen"),
    ("daniel.costa", "Daniel Costa"),
    ("maya.goldberg", "Maya Goldberg"),
    ("peter.novak", "Peter Novak"),
    ("lucy.harrington", "Lucy Harrington"),
    ("omar.haddad", "Omar Haddad"),
    ("zoe.anderson", "Zoe Anderson"),
    ("victor.alvarez", "Victor Alvarez"),
    ("nina.johansson", "Nina Johansson"),
    ("samuel.reyes", "Samuel Reyes"),
    ("isabel.moreau", "Isabel Moreau"),
    ("ethan.brooks", "Ethan Brooks"),
    ("julia.kowalski", "Julia Kowalski"),
    ("adam.sato", "Adam Sato"),
    ("ruth.ellison", "Ruth Ellison"),
    ("leo.park", "Leo Park"),
    ("mia.thornton", "Mia Thornton"),
];

const PARTNERS: [&str; 4] = [
    "fabrikam.example",
    "adatum.example",
    "tailspintoys.example",
    "litware.example",
];
const PARTNER_CONTACTS: [&str; 5] = ["accounts", "billing", "sales", "orders", "support"];

const OFFICE_APPS: [(&str, &str, &str, &str); 4] = [
    (
        "OfficeHome",
        "4765445b-32c6-49b0-83e6-1d93765276ca",
        "Windows Azure Active Directory",
        "00000002-0000-0000-c000-000000000000",
    ),
    (
        "Microsoft Teams",
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        "Microsoft Teams Services",
        "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
    ),
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
    ),
    (
        "Office 365 SharePoint Online",
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
        "00000003-0000-0ff1-ce00-000000000000",
    ),
];
const DESKTOP_APP: (&str, &str) = ("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c");
const OUTLOOK_UA: &str =
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)";

/// One member of the tenant.
struct Person {
    login: &'static str,
    upn: String,
    name: &'static str,
    object_id: String,
    home: Place,
    device_id: String,
    user_agent: String,
    browser: &'static str,
    puid: String,
}

fn office() -> Place {
    Place {
        ip: "12.145.60.10".into(),
        city: "Chicago",
        state: "Illinois",
        country: "US",
        asn: 7018,
    }
}

fn london_hotel() -> Place {
    Place {
        ip: "86.155.32.71".into(),
        city: "London",
        state: "England",
        country: "GB",
        asn: 2856,
    }
}

fn attacker_proxy() -> Place {
    Place {
        ip: "188.166.14.77".into(),
        city: "Amsterdam",
        state: "Noord-Holland",
        country: "NL",
        asn: 14061,
    }
}

fn attacker_replay() -> Place {
    Place {
        ip: "45.77.62.19".into(),
        city: "Frankfurt am Main",
        state: "Hesse",
        country: "DE",
        asn: 20473,
    }
}

fn people(g: &mut Gen) -> Vec<Person> {
    let homes: [(&str, &str, u32, u8); 4] = [
        ("Chicago", "Illinois", 7922, 73),
        ("Evanston", "Illinois", 7922, 73),
        ("Naperville", "Illinois", 20115, 24),
        ("Oak Park", "Illinois", 701, 71),
    ];
    NAMES
        .iter()
        .map(|(login, name)| {
            let (city, state, asn, first) = *g.pick(&homes);
            let chrome = g.chance(0.5);
            let version = 120 + g.rng.u32(..4);
            let user_agent = if chrome {
                format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36")
            } else {
                format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.0.0")
            };
            Person {
                login,
                upn: format!("{login}@{DOMAIN}"),
                name,
                object_id: g.guid(),
                home: Place {
                    ip: format!("{first}.{}.{}.{}", 20 + g.rng.u8(..200), g.rng.u8(..250), 2 + g.rng.u8(..250)),
                    city,
                    state,
                    country: "US",
                    asn,
                },
                device_id: g.guid(),
                user_agent,
                browser: if chrome { "Chrome" } else { "Edge" },
                puid: format!("10032001{:08X}", g.rng.u32(..)),
            }
        })
        .collect()
}

/// Everything the demo tenant logged, before it is split into export files.
#[derive(Default)]
struct Evidence {
    signins: Vec<SignIn>,
    audits: Vec<Audit>,
    mails: Vec<Mail>,
    /// Attacker events for the answer key: (time, source, operation, ip, note).
    story: Vec<(DateTime<Utc>, &'static str, String, String, String)>,
    /// Message ids each user received, per folder, for MailItemsAccessed records.
    received: Vec<(String, String, &'static str)>,
}

impl Evidence {
    fn signin(
        &mut self,
        g: &mut Gen,
        p: &Person,
        time: DateTime<Utc>,
        place: &Place,
        opts: SignInOpts,
    ) -> SignIn {
        let (app, app_id, resource, resource_id) = opts.app;
        let s = SignIn {
            time,
            upn: if opts.mixed_case {
                mixed_case(&p.upn)
            } else {
                p.upn.clone()
            },
            name: p.name.to_string(),
            user_id: p.object_id.clone(),
            request_id: g.guid(),
            correlation_id: g.guid(),
            session_id: opts.session.to_string(),
            token_id: g.token(),
            app,
            app_id,
            resource,
            resource_id,
            place: place.clone(),
            error_code: opts.error.0,
            failure_reason: opts.error.1,
            client_app: if opts.interactive {
                "Browser"
            } else {
                "Mobile Apps and Desktop clients"
            },
            user_agent: opts
                .user_agent
                .unwrap_or(if opts.interactive {
                    &p.user_agent
                } else {
                    OUTLOOK_UA
                })
                .to_string(),
            device_id: if opts.no_device {
                String::new()
            } else {
                p.device_id.clone()
            },
            browser: if opts.interactive {
                p.browser
            } else {
                "Rich Client 16.0.17328"
            },
            os: "Windows10",
            mfa_method: opts.mfa,
            interactive: opts.interactive,
        };
        self.signins.push(s.clone());
        s
    }

    fn audit(
        &mut self,
        g: &mut Gen,
        time: DateTime<Utc>,
        record_type: u32,
        operation: &str,
        user_id: &str,
        mut data: Value,
    ) -> String {
        let id = g.guid();
        data = audit_record(time, &id, record_type, operation, user_id, data);
        self.audits.push(Audit {
            time,
            id: id.clone(),
            record_type,
            operation: operation.into(),
            user_id: user_id.into(),
            data,
        });
        id
    }

    fn mail(
        &mut self,
        g: &mut Gen,
        time: DateTime<Utc>,
        sender: &str,
        recipient: &str,
        subject: &str,
        from_ip: &str,
        message_id: &str,
    ) {
        let external = !recipient.ends_with(DOMAIN);
        let mail = Mail {
            time,
            sender: sender.into(),
            recipient: recipient.into(),
            subject: subject.into(),
            status: "Delivered",
            from_ip: from_ip.into(),
            to_ip: if external {
                format!("40.107.{}.{}", g.rng.u8(..250), g.rng.u8(1..250))
            } else {
                String::new()
            },
            size: 8_000 + g.rng.u32(..60_000),
            message_id: message_id.into(),
            trace_id: g.guid(),
        };
        if recipient.ends_with(DOMAIN) {
            let folder = if subject.contains("invoice")
                || subject.contains("Invoice")
                || subject.contains("payment")
            {
                "\\Finance"
            } else {
                "\\Inbox"
            };
            self.received
                .push((recipient.to_string(), message_id.to_string(), folder));
        }
        self.mails.push(mail);
    }

    fn step(
        &mut self,
        time: DateTime<Utc>,
        source: &'static str,
        operation: &str,
        ip: &str,
        note: &str,
    ) {
        self.story
            .push((time, source, operation.into(), ip.into(), note.into()));
    }
}

/// An AuditData object: the common schema fields plus the record type's own fields (serde_json
/// writes the keys in name order).
fn audit_record(
    time: DateTime<Utc>,
    id: &str,
    record_type: u32,
    operation: &str,
    user_id: &str,
    specific: Value,
) -> Value {
    let workload = match record_type {
        1..=3 | 50 => "Exchange",
        6 => "SharePoint",
        _ => "AzureActiveDirectory",
    };
    let mut full = serde_json::Map::new();
    full.insert(
        "CreationTime".into(),
        json!(time.format("%Y-%m-%dT%H:%M:%S").to_string()),
    );
    full.insert("Id".into(), json!(id));
    full.insert("Operation".into(), json!(operation));
    full.insert("OrganizationId".into(), json!(TENANT_ID));
    full.insert("RecordType".into(), json!(record_type));
    full.insert("UserType".into(), json!(0));
    full.insert("Version".into(), json!(1));
    full.insert("Workload".into(), json!(workload));
    full.insert("UserId".into(), json!(user_id));
    if let Value::Object(mut own) = specific {
        full.append(&mut own);
    }
    Value::Object(full)
}

struct SignInOpts<'a> {
    app: (&'static str, &'static str, &'static str, &'static str),
    session: &'a str,
    interactive: bool,
    error: (u32, &'static str),
    mfa: &'static str,
    user_agent: Option<&'a str>,
    no_device: bool,
    mixed_case: bool,
}

fn mixed_case(upn: &str) -> String {
    let (local, domain) = upn.split_once('@').unwrap_or((upn, ""));
    let cap = |s: &str| {
        s.split('.')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    format!(
        "{}@{}",
        cap(local),
        domain.replacen("northwindtraders", "NorthwindTraders", 1)
    )
}

const SUBJECTS: [&str; 10] = [
    "Weekly status",
    "Re: Q2 planning",
    "Invoice 10442 attached",
    "Lunch on Thursday?",
    "Re: purchase order 7781",
    "Updated price list",
    "Meeting notes",
    "Re: payment schedule",
    "Contract renewal",
    "Shipping update",
];

fn demo_evidence(g: &mut Gen, people: &[Person]) -> Evidence {
    let mut ev = Evidence::default();
    let start = Utc
        .with_ymd_and_hms(2024, 5, 6, 0, 0, 0)
        .single()
        .expect("valid date");
    let victim = people
        .iter()
        .position(|p| p.login == VICTIM)
        .expect("the victim is in NAMES");
    for day in 0..14 {
        let date = start + Duration::days(day);
        let weekday = date.weekday().num_days_from_monday() < 5;
        for (i, p) in people.iter().enumerate() {
            let in_london = p.login == TRAVELLER && (4..=8).contains(&day);
            let place = if in_london {
                london_hotel()
            } else if g.chance(0.6) {
                office()
            } else {
                p.home.clone()
            };
            // Working hours: 8:00-17:00 in Chicago (UTC-5 in May) or London (UTC+1).
            let work_start = if in_london {
                Duration::hours(8)
            } else {
                Duration::hours(13)
            };
            if p.login == TRAVELLER && day == 3 {
                // Last Chicago sign-in before the evening flight to London.
                let t = date + Duration::hours(21) + g.secs(0..600);
                let session = g.guid();
                ev.signin(
                    g,
                    p,
                    t,
                    &office(),
                    SignInOpts {
                        app: OFFICE_APPS[0],
                        session: &session,
                        interactive: true,
                        error: (0, ""),
                        mfa: "",
                        user_agent: None,
                        no_device: false,
                        mixed_case: false,
                    },
                );
            }
            let session = g.guid();
            if weekday {
                let first = date + work_start + g.secs(0..3600);
                if g.chance(0.05) {
                    ev.signin(
                        g,
                        p,
                        first - Duration::seconds(70),
                        &place,
                        SignInOpts {
                            app: OFFICE_APPS[0],
                            session: "",
                            interactive: true,
                            error: (
                                50126,
                                "Error validating credentials due to invalid username or password.",
                            ),
                            mfa: "",
                            user_agent: None,
                            no_device: false,
                            mixed_case: false,
                        },
                    );
                }
                if p.login == MFA_DENIER && day == 2 {
                    for k in 0..2 {
                        ev.signin(
                            g,
                            p,
                            first - Duration::minutes(30 - 5 * k),
                            &place,
                            SignInOpts {
                                app: OFFICE_APPS[0],
                                session: "",
                                interactive: true,
                                error: (
                                    500121,
                                    "Authentication failed during strong authentication request.",
                                ),
                                mfa: "",
                                user_agent: None,
                                no_device: false,
                                mixed_case: false,
                            },
                        );
                    }
                }
                let mfa = if g.chance(0.3) {
                    "Mobile app notification"
                } else {
                    ""
                };
                let app = *g.pick(&OFFICE_APPS);
                let mixed_case = g.chance(0.3);
                let s = ev.signin(
                    g,
                    p,
                    first,
                    &place,
                    SignInOpts {
                        app,
                        session: &session,
                        interactive: true,
                        error: (0, ""),
                        mfa,
                        user_agent: None,
                        no_device: false,
                        mixed_case,
                    },
                );
                ev.audit(g, first + Duration::seconds(2), 15, "UserLoggedIn", &s.upn, json!({
                    "ResultStatus": "Success", "UserKey": p.object_id, "ClientIP": place.ip, "ObjectId": app.3,
                    "AzureActiveDirectoryEventType": 1, "ActorIpAddress": place.ip, "ApplicationId": app.1, "ErrorNumber": "0",
                    "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success"}, {"Name": "UserAgent", "Value": p.user_agent}, {"Name": "RequestType", "Value": "OAuth2:Authorize"}],
                    "DeviceProperties": [{"Name": "Id", "Value": p.device_id}, {"Name": "OS", "Value": "Windows10"}, {"Name": "BrowserType", "Value": p.browser}, {"Name": "SessionId", "Value": session}],
                    "IntraSystemId": s.request_id, "InterSystemsId": s.correlation_id,
                }));
                // Mail the user sends.
                for _ in 0..g.rng.usize(0..3) {
                    let t = first + Duration::minutes(20) + g.secs(0..6 * 3600);
                    let internal = g.chance(0.5);
                    let to = if internal {
                        let mut j = g.rng.usize(..people.len());
                        if j == i {
                            j = (j + 1) % people.len();
                        }
                        people[j].upn.clone()
                    } else {
                        format!("{}@{}", g.pick(&PARTNER_CONTACTS), g.pick(&PARTNERS))
                    };
                    let subject = *g.pick(&SUBJECTS);
                    let message_id = g.message_id("MW4PR11MB5872.namprd11.prod.outlook.com");
                    let item_id = g.token();
                    ev.audit(g, t, 2, "Send", &p.upn, json!({
                        "ResultStatus": "Succeeded", "UserKey": p.puid, "ClientIP": place.ip, "ClientIPAddress": place.ip,
                        "ClientInfoString": "Client=MSExchangeRPC", "LogonType": 0, "MailboxOwnerUPN": p.upn, "SessionId": session,
                        "Item": {"Id": item_id, "Subject": subject, "InternetMessageId": message_id, "ParentFolder": {"Path": "\\Sent Items"}, "SizeInBytes": 20_000},
                    }));
                    ev.mail(
                        g,
                        t + Duration::seconds(2),
                        &p.upn,
                        &to,
                        subject,
                        &place.ip,
                        &message_id,
                    );
                }
                // Mail from partners.
                for _ in 0..g.rng.usize(1..4) {
                    let t = date + Duration::hours(12) + g.secs(0..10 * 3600);
                    let from = format!("{}@{}", g.pick(&PARTNER_CONTACTS), g.pick(&PARTNERS));
                    let subject = *g.pick(&SUBJECTS);
                    let host = from
                        .split('@')
                        .nth(1)
                        .unwrap_or("partner.example")
                        .to_string();
                    let message_id = g.message_id(&host);
                    let ip = format!("40.107.{}.{}", g.rng.u8(..250), g.rng.u8(1..250));
                    ev.mail(g, t, &from, &p.upn, subject, &ip, &message_id);
                }
                // The day's mailbox sync by Outlook and a few files.
                let sync = first + Duration::minutes(5);
                let (count, folder_id) = (1 + g.rng.u32(..30), g.token());
                ev.audit(g, sync, 50, "MailItemsAccessed", &p.upn, json!({
                    "ResultStatus": "Succeeded", "UserKey": p.puid, "ClientIPAddress": place.ip, "ClientInfoString": "Client=MSExchangeRPC",
                    "LogonType": 0, "MailboxOwnerUPN": p.upn, "SessionId": session, "OperationCount": count,
                    "OperationProperties": [{"Name": "MailAccessType", "Value": "Sync"}, {"Name": "IsThrottled", "Value": "False"}],
                    "Folders": [{"Id": folder_id, "Path": "\\Inbox"}],
                }));
                for _ in 0..g.rng.usize(0..3) {
                    let t = first + g.secs(600..7 * 3600);
                    let file = *g.pick(&[
                        "Q2 forecast.xlsx",
                        "Vendor list.xlsx",
                        "Team plan.docx",
                        "Budget 2024.xlsx",
                        "Onboarding.pptx",
                    ]);
                    let operation = *g.pick(&["FileAccessed", "FileModified", "FileDownloaded"]);
                    ev.audit(g, t, 6, operation, &p.upn, json!({
                        "UserKey": format!("i:0h.f|membership|{}@live.com", p.puid.to_lowercase()), "ClientIP": place.ip,
                        "ObjectId": format!("https://northwindtraders.sharepoint.com/sites/Team/Shared Documents/{file}"),
                        "UserAgent": p.user_agent, "EventSource": "SharePoint", "ItemType": "File",
                        "SiteUrl": "https://northwindtraders.sharepoint.com/sites/Team/", "SourceFileName": file, "SourceRelativeUrl": "Shared Documents",
                    }));
                }
            }
            // Token refreshes by the user's desktop apps, every day.
            let refreshes = if weekday {
                4 + g.rng.usize(..5)
            } else {
                1 + g.rng.usize(..2)
            };
            for _ in 0..refreshes {
                let t = date + work_start + g.secs(0..9 * 3600);
                ev.signin(
                    g,
                    p,
                    t,
                    &place,
                    SignInOpts {
                        app: (
                            DESKTOP_APP.0,
                            DESKTOP_APP.1,
                            "Office 365 Exchange Online",
                            "00000002-0000-0ff1-ce00-000000000000",
                        ),
                        session: &session,
                        interactive: false,
                        error: (0, ""),
                        mfa: "",
                        user_agent: None,
                        no_device: false,
                        mixed_case: false,
                    },
                );
            }
        }
        // Exchange's own housekeeping.
        let t = date + Duration::hours(3) + g.secs(0..3600);
        ev.audit(g, t, 1, "Set-Mailbox", "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", json!({
            "ResultStatus": "True", "UserKey": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "ClientIP": "",
            "ObjectId": format!("NAMPR11A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{ORG_NAME}/DiscoverySearchMailbox{{D919BA05-46A6-415f-80AD-7E09334BB852}}"),
            "Parameters": [{"Name": "Identity", "Value": "DiscoverySearchMailbox"}], "OriginatingServer": "MW4PR11MB5872 (15.20.7316.039)\r\n",
        }));
    }
    attack(
        g,
        &mut ev,
        &people[victim],
        people.iter().find(|p| p.login == ADMIN).expect("admin"),
        people,
    );
    ev
}

fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, d, h, m, s)
        .single()
        .expect("valid time")
}

/// The takeover of the victim's account, step by step (ANSWER_KEY.md tells it in words).
fn attack(g: &mut Gen, ev: &mut Evidence, victim: &Person, admin: &Person, people: &[Person]) {
    let proxy = attacker_proxy();
    let replay = attacker_replay();
    let session = g.guid();
    let chrome_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

    // 1. The phishing mail.
    let phish_id = g.message_id("northwind-traders-docs.example");
    ev.mail(
        g,
        at(13, 14, 2, 11),
        "billing@northwind-traders-docs.example",
        &victim.upn,
        "Shared document: Q2 vendor payments",
        "203.0.113.45",
        &phish_id,
    );

    // 2-3. Sign-in through the AiTM proxy: no device id, MFA satisfied by the victim.
    let t = at(13, 14, 19, 37);
    let s = ev.signin(
        g,
        victim,
        t,
        &proxy,
        SignInOpts {
            app: OFFICE_APPS[0],
            session: &session,
            interactive: true,
            error: (0, ""),
            mfa: "Mobile app notification",
            user_agent: Some(chrome_ua),
            no_device: true,
            mixed_case: false,
        },
    );
    ev.step(t, "signin", "Sign-in", &proxy.ip, "sign-in through the phishing proxy (DigitalOcean, Amsterdam), no device id, MFA completed by the victim");
    let t = at(13, 14, 19, 41);
    ev.audit(g, t, 15, "UserLoggedIn", &victim.upn, json!({
        "ResultStatus": "Success", "UserKey": victim.object_id, "ClientIP": proxy.ip, "ActorIpAddress": proxy.ip, "ApplicationId": OFFICE_APPS[0].1,
        "AzureActiveDirectoryEventType": 1, "ErrorNumber": "0", "IntraSystemId": s.request_id, "InterSystemsId": s.correlation_id,
        "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success"}, {"Name": "UserAgent", "Value": chrome_ua}, {"Name": "RequestType", "Value": "OAuth2:Authorize"}],
        "DeviceProperties": [{"Name": "OS", "Value": "Windows10"}, {"Name": "BrowserType", "Value": "Chrome"}, {"Name": "SessionId", "Value": session}],
    }));
    ev.step(
        t,
        "audit",
        "UserLoggedIn",
        &proxy.ip,
        "the same sign-in in the audit log",
    );

    // 4. An authenticator app of the attacker's added to the account.
    let t = at(13, 14, 27, 5);
    ev.audit(g, t, 8, "Update user.", &victim.upn, json!({
        "ResultStatus": "Success", "UserKey": format!("{}@{ORG_NAME}", victim.object_id), "ObjectId": victim.upn, "ActorIpAddress": proxy.ip,
        "AzureActiveDirectoryEventType": 1,
        "ModifiedProperties": [
            {"Name": "StrongAuthenticationPhoneAppDetail", "NewValue": "[\r\n  {\r\n    \"DeviceName\": \"Pixel 7\",\r\n    \"DeviceToken\": \"APA91bH\",\r\n    \"NotificationType\": 4\r\n  }\r\n]", "OldValue": "[]"},
            {"Name": "StrongAuthenticationMethod", "NewValue": "[\r\n  {\r\n    \"MethodType\": 6,\r\n    \"Default\": true\r\n  }\r\n]", "OldValue": "[]"},
            {"Name": "Included Updated Properties", "NewValue": "StrongAuthenticationPhoneAppDetail, StrongAuthenticationMethod", "OldValue": ""},
        ],
        "Actor": [{"ID": victim.upn, "Type": 5}], "Target": [{"ID": victim.upn, "Type": 5}],
        "ExtendedProperties": [{"Name": "additionalDetails", "Value": format!("{{\"User-Agent\":\"{chrome_ua}\"}}")}],
    }));
    ev.step(
        t,
        "audit",
        "Update user.",
        &proxy.ip,
        "authenticator app 'Pixel 7' registered: persistence",
    );

    // 5-6. Hidden inbox rule and external forwarding.
    let t = at(13, 14, 31, 48);
    ev.audit(g, t, 1, "New-InboxRule", &victim.upn, json!({
        "ResultStatus": "True", "UserKey": victim.puid, "ClientIP": format!("{}:51234", proxy.ip), "SessionId": session,
        "ObjectId": format!("NAMPR11A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{ORG_NAME}/{}\\..", victim.name),
        "Parameters": [{"Name": "AlwaysDeleteOutlookRulesBlob", "Value": "False"}, {"Name": "Force", "Value": "False"},
            {"Name": "SubjectOrBodyContainsWords", "Value": "invoice;payment;remittance;bank"}, {"Name": "MoveToFolder", "Value": "RSS Subscriptions"},
            {"Name": "Name", "Value": ".."}, {"Name": "MarkAsRead", "Value": "True"}, {"Name": "StopProcessingRules", "Value": "True"}],
        "OriginatingServer": "MW4PR11MB5872 (15.20.7316.039)\r\n", "OrganizationName": ORG_NAME,
    }));
    ev.step(
        t,
        "audit",
        "New-InboxRule",
        &proxy.ip,
        "rule '..' moves mail about invoices and payments to RSS Subscriptions, marked read",
    );
    let t = at(13, 14, 34, 20);
    ev.audit(g, t, 1, "Set-Mailbox", &victim.upn, json!({
        "ResultStatus": "True", "UserKey": victim.puid, "ClientIP": format!("{}:51240", proxy.ip), "SessionId": session,
        "ObjectId": format!("NAMPR11A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{ORG_NAME}/{}", victim.name),
        "Parameters": [{"Name": "Identity", "Value": victim.upn}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:ap.remit@proton-mailbox.example"}, {"Name": "DeliverToMailboxAndForward", "Value": "True"}],
        "OriginatingServer": "MW4PR11MB5872 (15.20.7316.039)\r\n", "OrganizationName": ORG_NAME,
    }));
    ev.step(
        t,
        "audit",
        "Set-Mailbox",
        &proxy.ip,
        "all mail forwarded to ap.remit@proton-mailbox.example",
    );

    // 7. Reading the mailbox.
    let own: Vec<(String, &'static str)> = ev
        .received
        .iter()
        .filter(|(u, _, _)| *u == victim.upn)
        .map(|(_, m, f)| (m.clone(), *f))
        .collect();
    for (k, minute) in [
        (0usize, (14u32, 40u32)),
        (1, (14, 52)),
        (2, (15, 5)),
        (3, (15, 18)),
    ] {
        let t = at(13, minute.0, minute.1, 0);
        let chunk: Vec<&(String, &str)> = own.iter().skip(k * 4).take(4 + k).collect();
        let folders: Vec<Value> = ["\\Inbox", "\\Finance"]
            .iter()
            .filter_map(|folder| {
                let items: Vec<Value> = chunk.iter().filter(|(_, f)| f == folder).map(|(m, _)| json!({"Id": "RgAAAA", "InternetMessageId": m, "SizeInBytes": 24_000})).collect();
                (!items.is_empty()).then(|| json!({"Id": "LgAAAA", "Path": folder, "FolderItems": items}))
            })
            .collect();
        ev.audit(g, t, 50, "MailItemsAccessed", &victim.upn, json!({
            "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIPAddress": proxy.ip, "ClientInfoString": "Client=OWA;Action=ViaProxy",
            "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session, "OperationCount": chunk.len(),
            "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}], "Folders": folders,
        }));
        ev.step(
            t,
            "audit",
            "MailItemsAccessed",
            &proxy.ip,
            &format!("{} messages opened (Bind)", chunk.len()),
        );
    }
    let t = at(13, 15, 30, 0);
    ev.audit(g, t, 50, "MailItemsAccessed", &victim.upn, json!({
        "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIPAddress": proxy.ip, "ClientInfoString": "Client=OWA;Action=ViaProxy",
        "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session, "OperationCount": 1,
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Sync"}, {"Name": "IsThrottled", "Value": "False"}], "Folders": [{"Id": "LgAAAA", "Path": "\\Inbox"}],
    }));
    ev.step(
        t,
        "audit",
        "MailItemsAccessed",
        &proxy.ip,
        "whole Inbox synchronised (Sync): every message in it is exposed",
    );

    // 8. The fraud mail: 8 messages, 3 recipients each (18 external vendors, 6 colleagues).
    let mut recipients: Vec<String> = Vec::new();
    for partner in PARTNERS {
        for contact in ["accounts", "billing", "payables", "finance", "treasury"] {
            recipients.push(format!("{contact}@{partner}"));
        }
    }
    recipients.truncate(18);
    recipients.extend(
        people
            .iter()
            .filter(|p| p.login != VICTIM && p.login != ADMIN)
            .take(6)
            .map(|p| p.upn.clone()),
    );
    let subject = "Updated banking details for Q2 payments";
    let mut sent_ids = Vec::new();
    for (k, group) in recipients.chunks(3).enumerate() {
        let t = at(13, 15, 45, 10) + Duration::seconds(150 * k as i64);
        let message_id = g.message_id("MW4PR11MB5872.namprd11.prod.outlook.com");
        let item_id = g.token();
        ev.audit(g, t, 2, "Send", &victim.upn, json!({
            "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIP": proxy.ip, "ClientIPAddress": proxy.ip, "ClientInfoString": "Client=OWA;Action=ViaProxy",
            "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session,
            "Item": {"Id": item_id, "Subject": subject, "InternetMessageId": message_id, "ParentFolder": {"Path": "\\Sent Items"}, "SizeInBytes": 31_000, "Attachments": "Bank letter.pdf (28611b)"},
        }));
        ev.step(
            t,
            "audit",
            "Send",
            &proxy.ip,
            &format!("fraud mail to {}", group.join(", ")),
        );
        for r in group {
            ev.mail(
                g,
                t + Duration::seconds(2),
                &victim.upn,
                r,
                subject,
                &proxy.ip,
                &message_id,
            );
            ev.step(
                t + Duration::seconds(2),
                "messagetrace",
                "Message",
                &proxy.ip,
                &format!("delivered to {r}"),
            );
        }
        sent_ids.push(message_id);
    }

    // 9. Covering tracks: the sent mail and two vendor replies deleted.
    let replies: Vec<String> = (0..2).map(|_| g.message_id("fabrikam.example")).collect();
    for (k, r) in replies.iter().enumerate() {
        ev.mail(
            g,
            at(13, 16, 6 + 2 * k as u32, 30),
            &format!("accounts@{}", PARTNERS[k]),
            &victim.upn,
            &format!("RE: {subject}"),
            "40.107.22.15",
            r,
        );
    }
    let t = at(13, 16, 12, 0);
    let items: Vec<Value> = sent_ids.iter().map(|m| json!({"Id": "RgAAAA", "Subject": subject, "InternetMessageId": m, "ParentFolder": {"Path": "\\Sent Items"}})).collect();
    ev.audit(g, t, 3, "MoveToDeletedItems", &victim.upn, json!({
        "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIP": proxy.ip, "ClientIPAddress": proxy.ip, "ClientInfoString": "Client=OWA;Action=ViaProxy",
        "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session, "Folder": {"Path": "\\Sent Items"}, "DestFolder": {"Path": "\\Deleted Items"}, "AffectedItems": items,
    }));
    ev.step(
        t,
        "audit",
        "MoveToDeletedItems",
        &proxy.ip,
        "the 8 fraud messages moved out of Sent Items",
    );
    let t = at(13, 16, 12, 40);
    let items: Vec<Value> = replies.iter().map(|m| json!({"Id": "RgAAAA", "Subject": format!("RE: {subject}"), "InternetMessageId": m, "ParentFolder": {"Path": "\\Inbox"}})).collect();
    ev.audit(g, t, 3, "HardDelete", &victim.upn, json!({
        "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIP": proxy.ip, "ClientIPAddress": proxy.ip, "ClientInfoString": "Client=OWA;Action=ViaProxy",
        "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session, "Folder": {"Path": "\\Inbox"}, "AffectedItems": items,
    }));
    ev.step(
        t,
        "audit",
        "HardDelete",
        &proxy.ip,
        "two vendor replies purged",
    );

    // 10. The stolen session refreshed overnight from a second hosting provider.
    let desktop = (
        DESKTOP_APP.0,
        DESKTOP_APP.1,
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
    );
    let replay_refresh = |g: &mut Gen, ev: &mut Evidence, t: DateTime<Utc>, note: &str| {
        let opts = SignInOpts {
            app: desktop,
            session: &session,
            interactive: false,
            error: (0, ""),
            mfa: "",
            user_agent: Some("python-requests/2.31.0"),
            no_device: true,
            mixed_case: false,
        };
        ev.signin(g, victim, t, &replay, opts);
        ev.step(t, "noninteractive", "Sign-in", &replay.ip, note);
    };
    let mut t = at(13, 22, 0, 0);
    while t <= at(14, 8, 0, 0) {
        replay_refresh(
            g,
            ev,
            t,
            "token refresh with the stolen session (Vultr, Frankfurt)",
        );
        t += Duration::minutes(45);
    }

    // 11. Containment by the help desk.
    let t = at(14, 16, 30, 0);
    for operation in [
        "Reset user password.",
        "Update StsRefreshTokenValidFrom Timestamp.",
    ] {
        ev.audit(g, t, 8, operation, &admin.upn, json!({
            "ResultStatus": "Success", "UserKey": format!("{}@{ORG_NAME}", admin.object_id), "ObjectId": victim.upn, "ActorIpAddress": office().ip,
            "AzureActiveDirectoryEventType": 1, "ModifiedProperties": [], "Actor": [{"ID": admin.upn, "Type": 5}], "Target": [{"ID": victim.upn, "Type": 5}],
            "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "User"}],
        }));
    }

    // 12. The token still works after the reset.
    for t in [at(14, 17, 10, 0), at(15, 3, 5, 0)] {
        replay_refresh(
            g,
            ev,
            t,
            "token refresh AFTER the password reset: the session was not revoked everywhere",
        );
    }
    let t = at(15, 3, 7, 0);
    let last: Vec<Value> = own
        .iter()
        .take(3)
        .map(|(m, _)| json!({"Id": "RgAAAA", "InternetMessageId": m, "SizeInBytes": 24_000}))
        .collect();
    ev.audit(g, t, 50, "MailItemsAccessed", &victim.upn, json!({
        "ResultStatus": "Succeeded", "UserKey": victim.puid, "ClientIPAddress": replay.ip, "ClientInfoString": "Client=REST;Client=RESTSystem;;",
        "LogonType": 0, "MailboxOwnerUPN": victim.upn, "SessionId": session, "OperationCount": last.len(),
        "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
        "Folders": [{"Id": "LgAAAA", "Path": "\\Inbox", "FolderItems": last}],
    }));
    ev.step(
        t,
        "audit",
        "MailItemsAccessed",
        &replay.ip,
        "mail read after the password reset: the last attacker activity",
    );

    // 13. Remediation.
    for (t, operation, params) in [
        (
            at(15, 10, 0, 0),
            "Remove-InboxRule",
            json!([{"Name": "Identity", "Value": format!("{}\\..", victim.upn)}, {"Name": "Confirm", "Value": "False"}]),
        ),
        (
            at(15, 10, 1, 0),
            "Set-Mailbox",
            json!([{"Name": "Identity", "Value": victim.upn}, {"Name": "ForwardingSmtpAddress", "Value": ""}]),
        ),
    ] {
        ev.audit(g, t, 1, operation, &admin.upn, json!({"ResultStatus": "True", "UserKey": admin.puid, "ClientIP": format!("{}:60211", office().ip), "Parameters": params}));
    }
}

// ---------------------------------------------------------------------------------------------
// Demo output and answer key.

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

struct FileFacts {
    path: &'static str,
    rows: usize,
    duplicates: usize,
    first: DateTime<Utc>,
}

fn write_demo(out: &Path) -> io::Result<()> {
    let mut g = Gen::new(2024);
    let people = people(&mut g);
    let mut ev = demo_evidence(&mut g, &people);

    // Interactive sign-ins newest first, as the portal lists them; the rest in time order.
    ev.signins.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.request_id.cmp(&b.request_id))
    });
    let interactive: Vec<SignIn> = ev
        .signins
        .iter()
        .filter(|s| s.interactive)
        .rev()
        .cloned()
        .collect();
    let noninteractive: Vec<SignIn> = ev
        .signins
        .iter()
        .filter(|s| !s.interactive)
        .cloned()
        .collect();
    ev.audits
        .sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    ev.mails.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    ev.story.sort_by(|a, b| a.0.cmp(&b.0));

    // Two Purview exports that overlap for the whole of 14 May (an investigator exported the
    // log twice with overlapping ranges), newest first like the portal.
    let split_end = at(15, 0, 0, 0);
    let split_start = at(14, 0, 0, 0);
    let export1: Vec<&Audit> = ev
        .audits
        .iter()
        .filter(|a| a.time < split_end)
        .rev()
        .collect();
    let export2: Vec<&Audit> = ev
        .audits
        .iter()
        .filter(|a| a.time >= split_start)
        .rev()
        .collect();
    let overlap = ev
        .audits
        .iter()
        .filter(|a| a.time >= split_start && a.time < split_end)
        .count();

    let mut facts = Vec::new();
    let signin_path = "signins/InteractiveSignIns_2024-05-06_2024-05-20.csv";
    let rows = write_portal_csv(&out.join(signin_path), &interactive, TENANT_ID)?;
    facts.push(FileFacts {
        path: signin_path,
        rows,
        duplicates: 0,
        first: interactive.iter().map(|s| s.time).min().unwrap_or_default(),
    });
    let graph_path = "signins/graph_noninteractive_signins.jsonl";
    let rows = write_graph_jsonl(&out.join(graph_path), &noninteractive)?;
    facts.push(FileFacts {
        path: graph_path,
        rows,
        duplicates: 0,
        first: noninteractive
            .iter()
            .map(|s| s.time)
            .min()
            .unwrap_or_default(),
    });
    let p1 = "audit/Purview_AuditLog_export_1.csv";
    let rows = write_purview_csv(&out.join(p1), &export1)?;
    facts.push(FileFacts {
        path: p1,
        rows,
        duplicates: 0,
        first: export1.iter().map(|a| a.time).min().unwrap_or_default(),
    });
    let p2 = "audit/Purview_AuditLog_export_2.csv";
    let rows = write_purview_csv(&out.join(p2), &export2)?;
    facts.push(FileFacts {
        path: p2,
        rows,
        duplicates: overlap,
        first: split_end.max(
            export2
                .iter()
                .map(|a| a.time)
                .filter(|t| *t >= split_end)
                .min()
                .unwrap_or(split_end),
        ),
    });
    let trace_path = "messagetrace/MessageTraceV2_2024-05-06_2024-05-20.csv";
    let rows = write_trace_v2(&out.join(trace_path), &ev.mails)?;
    facts.push(FileFacts {
        path: trace_path,
        rows,
        duplicates: 0,
        first: ev.mails.iter().map(|m| m.time).min().unwrap_or_default(),
    });

    write_answer_key(out, &ev, &facts)?;
    for f in &facts {
        eprintln!("wrote {} ({} rows)", out.join(f.path).display(), f.rows);
    }
    Ok(())
}

fn write_answer_key(out: &Path, ev: &Evidence, facts: &[FileFacts]) -> io::Result<()> {
    let victim = format!("{VICTIM}@{DOMAIN}");
    let window_start = ev.story.first().map(|s| s.0).unwrap_or_default();
    let window_end = ev.story.last().map(|s| s.0).unwrap_or_default();
    let containment = at(14, 16, 30, 0);
    let phish = ev
        .mails
        .iter()
        .find(|m| m.recipient == victim && m.sender.contains("northwind-traders-docs"))
        .map(|m| m.time)
        .unwrap_or_default();
    let mut ips: Vec<String> = ev.story.iter().map(|s| s.3.clone()).collect();
    ips.sort();
    ips.dedup();
    let session = ev
        .signins
        .iter()
        .find(|s| s.upn == victim && s.place.ip == attacker_proxy().ip)
        .map(|s| s.session_id.clone())
        .unwrap_or_default();

    let mut k = String::new();
    let _ = writeln!(k, "# Answer key of the demo case, computed by benches/generate.rs from the records it wrote.\n");
    let _ = writeln!(k, "[case]\ntenant_domains = [{}]\nperiod_start = \"2024-05-06T00:00:00Z\"\nperiod_end = \"2024-05-20T00:00:00Z\"\nusers = {}\nseed = 2024\n", toml_str(DOMAIN), NAMES.len());
    for f in facts {
        let _ = writeln!(k, "[[files]]\npath = {}\nrows = {}\nduplicates = {}\nfirst = \"{}\"  # earliest row that is not a duplicate of an earlier file\n", toml_str(f.path), f.rows, f.duplicates, iso(&f.first));
    }
    let _ = writeln!(k, "[[compromised]]\nuser = {}\nwindow_start = \"{}\"\nwindow_end = \"{}\"\nattacker_ips = {}\nattacker_session_ids = {}\nphish_received = \"{}\"",
        toml_str(&victim), iso(&window_start), iso(&window_end), toml_list(&ips), toml_list(std::slice::from_ref(&session)), iso(&phish));
    let _ = writeln!(k, "containment = [\n  {{ time = \"{}\", operation = \"Reset user password.\", actor = {} }},\n  {{ time = \"{}\", operation = \"Update StsRefreshTokenValidFrom Timestamp.\", actor = {} }},\n]",
        iso(&containment), toml_str(&format!("{ADMIN}@{DOMAIN}")), iso(&containment), toml_str(&format!("{ADMIN}@{DOMAIN}")));
    let after: Vec<String> = ev
        .story
        .iter()
        .filter(|s| s.0 > containment)
        .map(|s| iso(&s.0))
        .collect();
    let _ = writeln!(k, "post_containment = {}\ninbox_rules = [\"..\"]\nforwarding_targets = [\"ap.remit@proton-mailbox.example\"]\n", toml_list(&after));
    for (t, source, operation, ip, note) in &ev.story {
        let _ = writeln!(k, "[[compromised.story]]\ntime = \"{}\"\nsource = \"{source}\"\noperation = {}\nip = \"{ip}\"\nnote = {}\n", iso(t), toml_str(operation), toml_str(note));
    }
    // Everyone who received mail from the victim during the window, per sender: the attacker
    // (mail sent from the attacker's addresses) or the victim herself (her ordinary mail).
    let mut by_recipient: Vec<((String, &str), Vec<&Mail>)> = Vec::new();
    for m in ev
        .mails
        .iter()
        .filter(|m| m.sender == victim && m.time >= window_start && m.time <= window_end)
    {
        let sent_by = if ips.contains(&m.from_ip) {
            "attacker"
        } else {
            "user"
        };
        match by_recipient
            .iter_mut()
            .find(|((r, s), _)| *r == m.recipient && *s == sent_by)
        {
            Some((_, list)) => list.push(m),
            None => by_recipient.push(((m.recipient.clone(), sent_by), vec![m])),
        }
    }
    by_recipient.sort_by(|a, b| a.0.cmp(&b.0));
    for ((recipient, sent_by), mails) in &by_recipient {
        let mut subjects: Vec<String> = mails.iter().map(|m| m.subject.clone()).collect();
        subjects.sort();
        subjects.dedup();
        let _ = writeln!(k, "[[recipients]]\nuser = {}\nrecipient = {}\ninternal = {}\nfirst = \"{}\"\nlast = \"{}\"\ncount = {}\nsubjects = {}\nstatus = \"Delivered\"\nsent_by = \"{sent_by}\"\n",
            toml_str(&victim), toml_str(recipient), recipient.ends_with(DOMAIN), iso(&mails[0].time), iso(&mails[mails.len() - 1].time), mails.len(), toml_list(&subjects));
    }
    let attacked: Vec<&String> = by_recipient
        .iter()
        .filter(|((_, s), _)| *s == "attacker")
        .map(|((r, _), _)| r)
        .collect();
    let own = by_recipient
        .iter()
        .filter(|((r, s), _)| *s == "user" && !attacked.contains(&r))
        .count();
    let mut addressees: Vec<&String> = by_recipient.iter().map(|((r, _), _)| r).collect();
    addressees.dedup();
    let clean: Vec<String> = NAMES
        .iter()
        .filter(|(l, _)| *l != VICTIM)
        .map(|(l, _)| format!("{l}@{DOMAIN}"))
        .collect();
    let _ = writeln!(
        k,
        "[clean]\nusers = {}\ntravellers = [{}]",
        toml_list(&clean),
        toml_str(&format!("{TRAVELLER}@{DOMAIN}"))
    );
    fs::write(out.join("answer_key.toml"), k)?;

    let mut md = String::new();
    let _ = writeln!(md, "# Demo case: answer key\n\nNorthwind Traders (`{DOMAIN}`), 36 users, 2024-05-06 to 2024-05-19 (UTC). One account, **{victim}** (accounts payable), is taken over through adversary-in-the-middle phishing. Every fact below is also in `answer_key.toml`, which the tests read; both are computed by `benches/generate.rs` from the records it wrote.\n");
    let _ = writeln!(
        md,
        "## Files\n\n| file | rows | duplicates |\n|---|---|---|"
    );
    for f in facts {
        let _ = writeln!(md, "| `{}` | {} | {} |", f.path, f.rows, f.duplicates);
    }
    let _ = writeln!(md, "\nThe two Purview exports overlap for the whole of 2024-05-14 (UTC): the {} records of that day are in both and must be counted once.\n", facts.iter().map(|f| f.duplicates).sum::<usize>());
    let _ = writeln!(md, "## The attack\n\n- {} phishing mail \"Shared document: Q2 vendor payments\" from `billing@northwind-traders-docs.example` delivered to the victim.", iso(&phish));
    for (t, source, operation, ip, note) in &ev.story {
        if *source == "messagetrace" {
            continue;
        }
        let _ = writeln!(md, "- {} {source} `{operation}` from {ip}: {note}", iso(t));
    }
    let _ = writeln!(md, "- {} containment: `{ADMIN}@{DOMAIN}` resets the password (`Reset user password.`) and revokes refresh tokens (`Update StsRefreshTokenValidFrom Timestamp.`). Attacker activity continues after it (above).\n- 2024-05-15T10:00:00Z remediation: the admin removes the rule and the forwarding.\n", iso(&containment));
    let _ = writeln!(
        md,
        "**Compromise window**: {} to {}. **Attacker IPs**: {}. **Attacker session**: `{}`.\n",
        iso(&window_start),
        iso(&window_end),
        ips.join(", "),
        session
    );
    let _ = writeln!(md, "## Who must be told\n\n{} recipients got mail from the victim during the window (all of them are in `answer_key.toml`, with times, subjects and who sent it); the fraud mail \"Updated banking details for Q2 payments\" went to 18 vendor addresses and 6 colleagues. {own} got only the victim's own ordinary mail, sent from her office: they are listed apart, not to notify.\n", addressees.len());
    let _ = writeln!(md, "## Not compromised\n\n- `{TRAVELLER}@{DOMAIN}` flies to London on 2024-05-09 and works from there until 2024-05-14 on his own device: travel, not an attack.\n- `{MFA_DENIER}@{DOMAIN}` rejects two stray MFA prompts on 2024-05-08: not an attack.\n- Every other user is clean.");
    fs::write(out.join("ANSWER_KEY.md"), md)
}

// ---------------------------------------------------------------------------------------------
// The synthetic benchmark set.

struct SyntheticSize {
    audit_rows: usize,
    signin_rows: usize,
    trace_rows: usize,
    seed: u64,
}

fn synthetic_audit(g: &mut Gen, user: &str, ip: &str, session: &str) -> (u32, &'static str, Value) {
    let roll = g.rng.u32(..100);
    let base = json!({
        "UserKey": format!("10032001{:08X}", g.rng.u32(..)), "OrganizationName": ORG_NAME,
        "OriginatingServer": "MW4PR11MB5872 (15.20.7316.039)\r\n", "ClientAppId": "", "AppId": "00000002-0000-0ff1-ce00-000000000000",
    });
    let mut data = match roll {
        0..=34 => {
            let items: Vec<Value> = (0..1 + g.rng.usize(..4))
                .map(|_| json!({"Id": g.token(), "InternetMessageId": g.message_id("BN0PR11MB1001.namprd11.prod.outlook.com"), "SizeInBytes": 10_000 + g.rng.u32(..90_000)}))
                .collect();
            let n = items.len();
            (
                50,
                "MailItemsAccessed",
                json!({
                    "ResultStatus": "Succeeded", "ClientIPAddress": ip, "ClientInfoString": "Client=REST;Client=RESTSystem;;", "ExternalAccess": false,
                    "InternalLogonType": 0, "LogonType": 0, "LogonUserSid": "S-1-5-21-1111111111-2222222222-3333333333-4444",
                    "MailboxGuid": g.guid(), "MailboxOwnerSid": "S-1-5-21-1111111111-2222222222-3333333333-4444", "MailboxOwnerUPN": user,
                    "SessionId": session, "OperationCount": n,
                    "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
                    "Folders": [{"Id": g.token(), "Path": "\\Inbox", "FolderItems": items}],
                }),
            )
        }
        35..=59 => {
            let file = format!("Report {}.xlsx", g.rng.u32(..5000));
            (
                6,
                if roll < 50 {
                    "FileAccessed"
                } else {
                    "FileDownloaded"
                },
                json!({
                    "ClientIP": ip, "ObjectId": format!("https://northwindtraders.sharepoint.com/sites/Finance/Shared Documents/{file}"),
                    "CorrelationId": g.guid(), "EventSource": "SharePoint", "ItemType": "File", "ListId": g.guid(), "ListItemUniqueId": g.guid(),
                    "Site": g.guid(), "WebId": g.guid(), "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
                    "SourceFileExtension": "xlsx", "SiteUrl": "https://northwindtraders.sharepoint.com/sites/Finance/", "SourceFileName": file,
                    "SourceRelativeUrl": "Shared Documents", "ApplicationDisplayName": "Microsoft Office", "AuthenticationType": "OAuth",
                    "BrowserName": "Chrome", "BrowserVersion": "122.0.0.0", "Platform": "WinDesktop", "IsManagedDevice": false,
                    "DeviceDisplayName": ip, "ListBaseType": 1, "ListServerTemplate": 101,
                }),
            )
        }
        60..=79 => (
            15,
            "UserLoggedIn",
            json!({
                "ResultStatus": "Success", "ClientIP": ip, "ActorIpAddress": ip, "ObjectId": "00000003-0000-0ff1-ce00-000000000000",
                "AzureActiveDirectoryEventType": 1, "ErrorNumber": "0", "ApplicationId": OFFICE_APPS[0].1, "InterSystemsId": g.guid(), "IntraSystemId": g.guid(),
                "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success"}, {"Name": "UserAgent", "Value": OUTLOOK_UA},
                    {"Name": "UserAuthenticationMethod", "Value": "1"}, {"Name": "RequestType", "Value": "OAuth2:Token"}, {"Name": "KeepMeSignedIn", "Value": "False"}],
                "DeviceProperties": [{"Name": "OS", "Value": "Windows10"}, {"Name": "BrowserType", "Value": "Edge"}, {"Name": "SessionId", "Value": session}],
                "Actor": [{"ID": g.guid(), "Type": 0}, {"ID": user, "Type": 5}], "Target": [{"ID": "00000003-0000-0ff1-ce00-000000000000", "Type": 0}],
            }),
        ),
        80..=91 => (
            2,
            "Send",
            json!({
                "ResultStatus": "Succeeded", "ClientIP": ip, "ClientIPAddress": ip, "ClientInfoString": "Client=MSExchangeRPC", "LogonType": 0,
                "MailboxOwnerUPN": user, "SessionId": session, "MailboxGuid": g.guid(),
                "Item": {"Id": g.token(), "Subject": *g.pick(&SUBJECTS), "InternetMessageId": g.message_id("MW4PR11MB5872.namprd11.prod.outlook.com"),
                    "ParentFolder": {"Id": g.token(), "Path": "\\Sent Items"}, "SizeInBytes": 20_000 + g.rng.u32(..50_000)},
            }),
        ),
        92..=97 => (
            3,
            "MoveToDeletedItems",
            json!({
                "ResultStatus": "Succeeded", "ClientIP": ip, "ClientIPAddress": ip, "ClientInfoString": "Client=MSExchangeRPC", "LogonType": 0,
                "MailboxOwnerUPN": user, "SessionId": session, "Folder": {"Id": g.token(), "Path": "\\Inbox"}, "DestFolder": {"Id": g.token(), "Path": "\\Deleted Items"},
                "AffectedItems": [{"Id": g.token(), "Subject": *g.pick(&SUBJECTS), "InternetMessageId": g.message_id("BN0PR11MB1001.namprd11.prod.outlook.com"), "ParentFolder": {"Path": "\\Inbox"}}],
            }),
        ),
        _ => (
            1,
            "New-InboxRule",
            json!({
                "ResultStatus": "True", "ClientIP": format!("{ip}:{}", 40_000 + g.rng.u32(..20_000)), "SessionId": session,
                "ObjectId": format!("NAMPR11A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{ORG_NAME}/{user}\\Newsletters"),
                "Parameters": [{"Name": "Name", "Value": "Newsletters"}, {"Name": "From", "Value": "news@litware.example"}, {"Name": "MoveToFolder", "Value": "Newsletters"}],
            }),
        ),
    };
    if let (Value::Object(d), Value::Object(b)) = (&mut data.2, base) {
        for (k, v) in b {
            d.entry(k).or_insert(v);
        }
    }
    data
}

fn write_synthetic(out: &Path, size: &SyntheticSize) -> io::Result<()> {
    fs::create_dir_all(out)?;
    let mut g = Gen::new(size.seed);
    let users: Vec<(String, String, String)> = (0..5000)
        .map(|i| {
            (
                format!("user{i:04}@{DOMAIN}"),
                format!(
                    "{}.{}.{}.{}",
                    24 + i % 50,
                    (i / 50) % 250,
                    1 + i % 200,
                    2 + i % 250
                ),
                g.guid(),
            )
        })
        .collect();
    let start = at(1, 0, 0, 0);
    let span = 30 * 24 * 3600;

    let path = out.join("ual_purview_export.csv");
    let mut w = csv_writer(&path)?;
    w.write_record([
        "RecordId",
        "CreationDate",
        "RecordType",
        "Operation",
        "UserId",
        "AuditData",
        "AssociatedAdminUnits",
        "AssociatedAdminUnitsNames",
    ])?;
    let mut cell = Vec::with_capacity(4096);
    for i in 0..size.audit_rows {
        let t = start + Duration::seconds((i as i64 * span) / size.audit_rows.max(1) as i64);
        let (user, ip, session) = &users[g.rng.usize(..users.len())];
        let user_id = if g.chance(0.3) {
            mixed_case(user)
        } else {
            user.clone()
        };
        let (record_type, operation, data) = synthetic_audit(&mut g, &user_id, ip, session);
        let id = g.guid();
        let full = audit_record(t, &id, record_type, operation, &user_id, data);
        cell.clear();
        serde_json::to_writer(&mut cell, &full)?;
        w.write_record([
            id.as_bytes(),
            us_date(&t).as_bytes(),
            record_type.to_string().as_bytes(),
            operation.as_bytes(),
            user_id.as_bytes(),
            &cell,
            b"",
            b"",
        ])?;
    }
    w.flush()?;
    eprintln!("wrote {} ({} rows)", path.display(), size.audit_rows);

    let half = size.signin_rows / 2;
    let place = |ip: &str| Place {
        ip: ip.to_string(),
        city: "Chicago",
        state: "Illinois",
        country: "US",
        asn: 7922,
    };
    let people_for_signins: Vec<Person> = users
        .iter()
        .take(5000)
        .map(|(upn, ip, _)| Person {
            login: "user",
            upn: upn.clone(),
            name: "Synthetic User",
            object_id: g.guid(),
            home: place(ip),
            device_id: g.guid(),
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0".into(),
            browser: "Edge 122.0.0",
            puid: String::new(),
        })
        .collect();
    for (interactive, file, rows) in [
        (true, "InteractiveSignIns_synthetic.csv", half),
        (
            false,
            "graph_noninteractive_synthetic.jsonl",
            size.signin_rows - half,
        ),
    ] {
        let mut ev = Evidence::default();
        let path = out.join(file);
        // Written in chunks so memory stays small however many rows are asked for.
        let mut written = 0;
        let mut csv_out = if interactive {
            Some(csv_writer(&path)?)
        } else {
            None
        };
        let mut json_out = if interactive {
            None
        } else {
            Some(BufWriter::with_capacity(1 << 20, File::create(&path)?))
        };
        if let Some(w) = &mut csv_out {
            w.write_record(PORTAL_HEADER.split(','))?;
        }
        while written < rows {
            ev.signins.clear();
            for i in written..(written + 50_000).min(rows) {
                let t = start + Duration::seconds((i as i64 * span) / rows.max(1) as i64);
                let p = &people_for_signins[g.rng.usize(..people_for_signins.len())];
                let session = users[0].2.clone();
                let failed = g.chance(0.04);
                let app = *g.pick(&OFFICE_APPS);
                let mfa = if interactive && g.chance(0.3) {
                    "Mobile app notification"
                } else {
                    ""
                };
                ev.signin(
                    &mut g,
                    p,
                    t,
                    &p.home,
                    SignInOpts {
                        app,
                        session: &session,
                        interactive,
                        error: if failed {
                            (
                                50126,
                                "Error validating credentials due to invalid username or password.",
                            )
                        } else {
                            (0, "")
                        },
                        mfa,
                        user_agent: None,
                        no_device: false,
                        mixed_case: false,
                    },
                );
            }
            written += ev.signins.len();
            if let Some(w) = &mut csv_out {
                for s in &ev.signins {
                    w.write_record(portal_row(s, TENANT_ID))?;
                }
            }
            if let Some(w) = &mut json_out {
                for s in &ev.signins {
                    serde_json::to_writer(&mut *w, &graph_signin(s))?;
                    w.write_all(b"\n")?;
                }
            }
        }
        if let Some(mut w) = csv_out {
            w.flush()?;
        }
        if let Some(mut w) = json_out {
            w.flush()?;
        }
        eprintln!("wrote {} ({rows} rows)", path.display());
    }

    let mut ev = Evidence::default();
    for i in 0..size.trace_rows {
        let t = start + Duration::seconds((i as i64 * span) / size.trace_rows.max(1) as i64);
        let (sender, ip, _) = &users[g.rng.usize(..users.len())];
        let to = if g.chance(0.6) {
            users[g.rng.usize(..users.len())].0.clone()
        } else {
            format!("{}@{}", g.pick(&PARTNER_CONTACTS), g.pick(&PARTNERS))
        };
        let message_id = g.message_id("MW4PR11MB5872.namprd11.prod.outlook.com");
        let subject = *g.pick(&SUBJECTS);
        ev.mail(&mut g, t, sender, &to, subject, ip, &message_id);
    }
    let path = out.join("MessageTraceV2_synthetic.csv");
    write_trace_v2(&path, &ev.mails)?;
    eprintln!("wrote {} ({} rows)", path.display(), size.trace_rows);
    Ok(())
}

// ---------------------------------------------------------------------------------------------

const USAGE: &str = "usage: generate demo OUT_DIR
       generate synthetic OUT_DIR [--audit-rows N] [--signin-rows N] [--trace-rows N] [--seed S]";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") if args.len() == 2 => write_demo(&PathBuf::from(&args[1])),
        Some("synthetic") if args.len() >= 2 => match parse_size(&args[2..]) {
            Ok(size) => write_synthetic(&PathBuf::from(&args[1]), &size),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        },
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, USAGE)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_size(args: &[String]) -> Result<SyntheticSize, String> {
    let mut size = SyntheticSize {
        audit_rows: 1_000_000,
        signin_rows: 1_000_000,
        trace_rows: 200_000,
        seed: 7,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a number\n{USAGE}"))?;
        let n: u64 = value
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{flag}: expected a number, found {value:?}"))?;
        match flag.as_str() {
            "--audit-rows" => size.audit_rows = n as usize,
            "--signin-rows" => size.signin_rows = n as usize,
            "--trace-rows" => size.trace_rows = n as usize,
            "--seed" => size.seed = n,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(size)
}
