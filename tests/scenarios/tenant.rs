//! The benign tenant every scenario runs on: a population that does what real users, admins and
//! Microsoft's own services do, each habit varied by the seed, so that a rule which fires on
//! ordinary behaviour shows up as a clean account called suspicious.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::export::{audit_record, App, Audit, Mail, Place, SignIn};

// ---------------------------------------------------------------------------------------------
// Randomness and ids.

/// The seeded source of every choice; the only one, so a seed gives the same bytes. Shared
/// borrows (a cell inside) so a choice can be made in the arguments of a call on the world.
pub struct Gen {
    rng: std::cell::RefCell<fastrand::Rng>,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: std::cell::RefCell::new(fastrand::Rng::with_seed(seed)),
        }
    }

    pub fn u8(&self, r: impl std::ops::RangeBounds<u8>) -> u8 {
        self.rng.borrow_mut().u8(r)
    }

    pub fn u16(&self, r: impl std::ops::RangeBounds<u16>) -> u16 {
        self.rng.borrow_mut().u16(r)
    }

    pub fn u32(&self, r: impl std::ops::RangeBounds<u32>) -> u32 {
        self.rng.borrow_mut().u32(r)
    }

    pub fn u64(&self, r: impl std::ops::RangeBounds<u64>) -> u64 {
        self.rng.borrow_mut().u64(r)
    }

    pub fn usize(&self, r: impl std::ops::RangeBounds<usize>) -> usize {
        self.rng.borrow_mut().usize(r)
    }

    pub fn i64(&self, r: impl std::ops::RangeBounds<i64>) -> i64 {
        self.rng.borrow_mut().i64(r)
    }

    pub fn f64(&self) -> f64 {
        self.rng.borrow_mut().f64()
    }

    pub fn guid(&self) -> String {
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            self.u32(..),
            self.u16(..),
            self.u16(..0x1000),
            8 + self.u8(..4),
            self.u16(..0x1000),
            self.u64(..1 << 48)
        )
    }

    pub fn token(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        (0..22)
            .map(|_| ALPHABET[self.usize(..ALPHABET.len())] as char)
            .collect()
    }

    /// An Internet message id as Exchange Online writes them.
    pub fn message_id(&self, host: &str) -> String {
        format!(
            "<{}{:08X}{:04X}@{host}>",
            host.split('.').next().unwrap_or("MSG").to_uppercase(),
            self.u32(..),
            self.u16(..)
        )
    }

    pub fn pick<'a, T>(&self, items: &'a [T]) -> &'a T {
        &items[self.usize(..items.len())]
    }

    pub fn chance(&self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn secs(&self, range: std::ops::Range<i64>) -> Duration {
        Duration::seconds(self.i64(range))
    }

    /// An address in a /16 or /24 given as its first two or three octets.
    pub fn ip_in(&self, prefix: &str) -> String {
        if prefix.matches('.').count() == 2 {
            format!("{prefix}.{}", self.u8(2..254))
        } else {
            format!("{prefix}.{}.{}", self.u8(1..255), self.u8(2..254))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Networks. Each /16 sits inside one autonomous system in the embedded ASN database.

/// A network range: first two (or three) octets, ASN, and where Entra places it.
#[derive(Clone, Copy, Debug)]
pub struct Net {
    pub prefix: &'static str,
    pub asn: u32,
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
}

impl Net {
    pub fn place(&self, g: &Gen) -> Place {
        Place {
            ip: g.ip_in(self.prefix),
            city: self.city,
            state: self.state,
            country: self.country,
            asn: self.asn,
        }
    }
}

const fn net(
    prefix: &'static str,
    asn: u32,
    city: &'static str,
    state: &'static str,
    country: &'static str,
) -> Net {
    Net {
        prefix,
        asn,
        city,
        state,
        country,
    }
}

/// A country a tenant can be in: its UTC offset, its home broadband, mobile carriers and the
/// business line of an office.
pub struct Country {
    pub code: &'static str,
    pub utc_offset: i64,
    pub residential: &'static [Net],
    pub carriers: &'static [Net],
    pub office: &'static [Net],
}

pub static COUNTRIES: [Country; 3] = [
    Country {
        code: "US",
        utc_offset: -5,
        residential: &[
            net("73.44", 7922, "Chicago", "Illinois", "US"),
            net("24.14", 7922, "Evanston", "Illinois", "US"),
            net("71.201", 7922, "Naperville", "Illinois", "US"),
            net("99.35", 7018, "Oak Park", "Illinois", "US"),
        ],
        carriers: &[
            net("172.58", 21928, "Chicago", "Illinois", "US"),
            net("174.215", 6167, "Chicago", "Illinois", "US"),
            net("107.77", 7018, "Chicago", "Illinois", "US"),
        ],
        office: &[net("12.145", 7018, "Chicago", "Illinois", "US")],
    },
    Country {
        code: "GB",
        utc_offset: 0,
        residential: &[
            net("86.150", 2856, "London", "England", "GB"),
            net("82.15", 5089, "Croydon", "England", "GB"),
            net("90.200", 5607, "Reading", "England", "GB"),
        ],
        carriers: &[
            net("31.94", 2856, "London", "England", "GB"),
            net("92.40", 206067, "London", "England", "GB"),
        ],
        office: &[net("81.145", 2856, "London", "England", "GB")],
    },
    Country {
        code: "DE",
        utc_offset: 1,
        residential: &[
            net("79.200", 3320, "Munich", "Bavaria", "DE"),
            net("91.40", 3320, "Augsburg", "Bavaria", "DE"),
            net("88.70", 3209, "Munich", "Bavaria", "DE"),
        ],
        carriers: &[
            net("176.1", 6805, "Munich", "Bavaria", "DE"),
            net("80.187", 3320, "Munich", "Bavaria", "DE"),
        ],
        office: &[net("62.154", 3320, "Munich", "Bavaria", "DE")],
    },
];

/// Hosting ranges attackers rent (and sprayers use).
pub const HOSTING: [Net; 10] = [
    net("188.166", 14061, "Amsterdam", "Noord-Holland", "NL"),
    net("128.199", 14061, "North Bergen", "New Jersey", "US"),
    net("45.77", 20473, "Tokyo", "Tokyo", "JP"),
    net("149.28", 20473, "Piscataway", "New Jersey", "US"),
    net("137.74", 16276, "Roubaix", "Hauts-de-France", "FR"),
    net("51.75", 16276, "Gravelines", "Hauts-de-France", "FR"),
    net("95.216", 24940, "Helsinki", "Uusimaa", "FI"),
    net("49.12", 24940, "Nuremberg", "Bavaria", "DE"),
    net("146.70", 9009, "Bucharest", "Bucuresti", "RO"),
    net("18.195", 16509, "Frankfurt am Main", "Hesse", "DE"),
];

/// Cloud-hosted virtual desktops (Azure Virtual Desktop) the tenant's staff work from.
pub const VDI: [Net; 3] = [
    net("20.106", 8075, "Chicago", "Illinois", "US"),
    net("20.90", 8075, "London", "England", "GB"),
    net("20.79", 8075, "Frankfurt am Main", "Hesse", "DE"),
];

/// The corporate VPN's egress, on AWS.
pub const VPN: [Net; 3] = [
    net("3.128", 16509, "Ashburn", "Virginia", "US"),
    net("18.130", 16509, "London", "England", "GB"),
    net("3.120", 16509, "Frankfurt am Main", "Hesse", "DE"),
];

/// A cloud region for the tenant: usually in its own country, sometimes the parent company's.
fn region(g: &Gen, nets: &[Net], country: &str) -> Net {
    match nets.iter().find(|n| n.country == country) {
        Some(n) if g.chance(0.8) => *n,
        _ => *g.pick(nets),
    }
}

/// Exchange Online front ends, where Outlook mobile's cloud sync and server-side work come from.
pub const EXCHANGE_FRONT_END: Net = net("52.96", 8075, "", "", "US");
/// Entra ID front ends (Microsoft Corp AS8068).
pub const ENTRA_FRONT_END: Net = net("204.79.197", 8068, "", "", "US");

/// Destinations of business trips, with the flight time from anywhere in the tenant's countries.
pub const TRIP_DESTINATIONS: [(Net, i64); 5] = [
    (net("86.155", 2856, "London", "England", "GB"), 8),
    (net("91.47", 3320, "Berlin", "Berlin", "DE"), 9),
    (net("73.12", 7922, "Boston", "Massachusetts", "US"), 8),
    (net("126.140", 17676, "Tokyo", "Tokyo", "JP"), 13),
    (net("121.200", 4764, "Sydney", "New South Wales", "AU"), 22),
];

// ---------------------------------------------------------------------------------------------
// Applications and clients.

pub const OFFICE_HOME: App = (
    "OfficeHome",
    "4765445b-32c6-49b0-83e6-1d93765276ca",
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
pub const TEAMS: App = (
    "Microsoft Teams",
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    "Microsoft Teams Services",
    "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
);
pub const OWA: App = (
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
pub const SHAREPOINT: App = (
    "Office 365 SharePoint Online",
    "00000003-0000-0ff1-ce00-000000000000",
    "Office 365 SharePoint Online",
    "00000003-0000-0ff1-ce00-000000000000",
);
pub const OFFICE_DESKTOP: App = (
    "Microsoft Office",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c",
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
pub const OUTLOOK_MOBILE: App = (
    "Microsoft Outlook",
    "27922004-5251-4030-b22d-91ecd9a37ea4",
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
pub const IOS_ACCOUNTS: App = (
    "iOS Accounts",
    "f8d98a96-0999-43f5-8af3-69971c7bb423",
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
pub const AUTH_BROKER: App = (
    "Microsoft Authentication Broker",
    "29d9ed98-a469-4536-ade2-f981bc1d605e",
    "Microsoft Graph",
    "00000003-0000-0000-c000-000000000000",
);
pub const GRAPH_EXPLORER_LIKE: App = (
    "Microsoft Office",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c",
    "Microsoft Graph",
    "00000003-0000-0000-c000-000000000000",
);
/// A real backup product's kind of app: reads every mailbox through Graph, application permission.
pub const BACKUP_APP_ID: &str = "6f1d2b0a-8c44-4e1e-9a57-3c2f1b7e0d21";

pub const BAD_PASSWORD: (u32, &str) = (
    50126,
    "Error validating credentials due to invalid username or password.",
);
pub const MFA_DENIED: (u32, &str) = (
    500121,
    "Authentication failed during strong authentication request.",
);
pub const MFA_REQUIRED: (u32, &str) = (50074, "Strong Authentication is required.");

/// The desktop a person works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desktop {
    Windows,
    Mac,
}

/// The mail client on a person's phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneMail {
    /// Outlook for iOS/Android: syncs through Microsoft's cloud, so mailbox records carry an
    /// Exchange front-end address, not the phone's.
    OutlookMobile,
    /// The iPhone's own Mail app over Exchange ActiveSync.
    IosMail,
    /// A third-party client (Gmail app) over ActiveSync.
    ThirdParty,
}

/// A person's phone.
#[derive(Clone, Debug)]
pub struct Phone {
    pub mail: PhoneMail,
    pub os: &'static str,
    pub user_agent: &'static str,
    /// Empty for a personal phone that never registered with Entra.
    pub device_id: String,
}

/// A business trip: leaves on `depart` (local evening), works abroad from the next day until
/// `back` (the day of the return flight).
#[derive(Clone, Debug)]
pub struct Trip {
    pub depart: i64,
    pub back: i64,
    pub hotel: Place,
    /// Hours the destination's clock is ahead of home.
    pub offset: f64,
    pub flight_hours: i64,
}

/// Where a person is on a day of a trip.
pub enum TripDay {
    Home,
    /// In the air or just landed: no activity.
    Gone,
    /// Abroad, with the hours to add to home-clock times to get the local working day.
    Abroad(Place, f64),
}

/// One account in the tenant.
#[derive(Clone, Debug)]
pub struct Person {
    pub upn: String,
    pub name: String,
    pub object_id: String,
    pub puid: String,
    pub home: Place,
    /// Empty for a personal computer that is not registered.
    pub device_id: String,
    pub managed: bool,
    pub desktop: Desktop,
    pub browser: &'static str,
    pub user_agent: String,
    pub phone: Option<Phone>,
    pub vdi: bool,
    pub vpn: bool,
    /// Messages opened per working day.
    pub reads_per_day: u32,
    pub admin: bool,
    /// A shared mailbox: never signs in; delegates read and send as it.
    pub shared: bool,
    /// Delegates of a shared mailbox (indices into the people).
    pub delegates: Vec<usize>,
    /// First day with any activity (new employees start late).
    pub start_day: i64,
    pub trip: Option<Trip>,
    /// The day this person denies stray MFA prompts.
    pub mfa_slip_day: Option<i64>,
    /// The day this person files newsletters with an inbox rule.
    pub rule_day: Option<i64>,
    /// A dedicated address on a hosting network the desktop always works from (a personal
    /// VPN's dedicated IP, a cloud PC), at home, in the office and abroad.
    pub dedicated: Option<Place>,
    /// A commercial VPN the desktop always works through, its exit a new address of the
    /// provider's network every day.
    pub vpn_exits: Option<Net>,
}

const FIRST: [&str; 40] = [
    "amelia", "noah", "olivia", "liam", "ava", "lucas", "mia", "mateo", "isla", "elias", "zara",
    "oscar", "chloe", "henry", "leila", "arjun", "sofia", "jonas", "maya", "felix", "nora",
    "samir", "hana", "david", "ines", "tomas", "grace", "omar", "julia", "kofi", "erin", "pavel",
    "yuki", "ruth", "diego", "lena", "marcus", "priya", "owen", "clara",
];
const LAST: [&str; 36] = [
    "adams",
    "bauer",
    "chen",
    "dubois",
    "evans",
    "fischer",
    "garcia",
    "hughes",
    "ivanova",
    "jensen",
    "kowalski",
    "lopez",
    "mensah",
    "novak",
    "okafor",
    "patel",
    "quinn",
    "rossi",
    "schmidt",
    "tanaka",
    "underwood",
    "varga",
    "walsh",
    "xu",
    "yilmaz",
    "zimmer",
    "brennan",
    "costa",
    "dahl",
    "eriksen",
    "farouk",
    "gupta",
    "haddad",
    "ito",
    "keller",
    "lindqvist",
];
const DOMAINS: [&str; 12] = [
    "contoso-freight.example",
    "fabrikam-legal.example",
    "tailwind-dental.example",
    "alpineski.example",
    "woodgrove-advisors.example",
    "proseware-labs.example",
    "litware-design.example",
    "adventureworks-cycles.example",
    "wingtip-toys.example",
    "coho-vineyard.example",
    "relecloud-energy.example",
    "margie-travel.example",
];
pub const PARTNERS: [&str; 8] = [
    "northwindtraders.example",
    "adatum.example",
    "tailspintoys.example",
    "lucernepublishing.example",
    "blueyonder-air.example",
    "graphicdesigninstitute.example",
    "humongousinsurance.example",
    "trey-research.example",
];
pub const PARTNER_CONTACTS: [&str; 6] = [
    "accounts", "billing", "sales", "orders", "support", "projects",
];
pub const SUBJECTS: [&str; 14] = [
    "Weekly status",
    "Re: Q3 planning",
    "Invoice 20931 attached",
    "Lunch on Thursday?",
    "Re: purchase order 5521",
    "Updated price list",
    "Meeting notes",
    "Re: payment schedule",
    "Contract renewal",
    "Shipping update",
    "Re: site visit",
    "Draft for review",
    "Holiday rota",
    "Re: customer escalation",
];

/// A working day's clock in UTC for local `hour`.
pub fn local(start: DateTime<Utc>, day: i64, hour: f64, offset: i64) -> DateTime<Utc> {
    start + Duration::days(day) + Duration::seconds(((hour - offset as f64) * 3600.0) as i64)
}

/// Everything the tenant logged, before it is split into export files, plus what only the
/// generator knows (who the attacker was).
pub struct World {
    pub g: Gen,
    pub tenant_id: String,
    pub domain: String,
    pub org: String,
    pub country: &'static Country,
    pub start: DateTime<Utc>,
    pub days: i64,
    pub people: Vec<Person>,
    pub signins: Vec<SignIn>,
    pub audits: Vec<Audit>,
    pub mails: Vec<Mail>,
    /// Message ids delivered to each mailbox, in delivery order.
    pub received: BTreeMap<String, Vec<String>>,
    /// Accounts attacked without success (sprayed).
    pub targeted: BTreeSet<String>,
    pub attacker_ips: BTreeSet<String>,
    /// Times of attacker activity per compromised account.
    pub attacker_times: BTreeMap<String, Vec<DateTime<Utc>>>,
    /// No sign-in export in the evidence (audit-log-only scenarios).
    pub no_signin_export: bool,
    /// Choices drawn apart from `g` (the people on rented networks of their own), so that
    /// adding them left every other choice of a seed as it was.
    pub side: Gen,
}

/// How a sign-in is made, for [`World::signin`].
#[derive(Clone)]
pub struct How<'a> {
    pub app: App,
    pub session: &'a str,
    pub interactive: bool,
    pub error: (u32, &'static str),
    pub mfa: &'static str,
    pub client_app: &'static str,
    pub user_agent: String,
    pub device_id: String,
    pub browser: &'static str,
    pub os: &'static str,
    pub protocol: &'static str,
}

impl World {
    pub fn new(seed: u64) -> World {
        let g = Gen::new(seed ^ 0x5ce9_a710);
        let side = Gen::new(seed ^ 0xded1_ca7e);
        let domain = g.pick(&DOMAINS).to_string();
        let org = format!(
            "{}.onmicrosoft.com",
            domain.trim_end_matches(".example").replace('-', "")
        );
        let country = &COUNTRIES[g.usize(..COUNTRIES.len())];
        let start = Utc
            .with_ymd_and_hms(2025, 1 + g.u32(..11), 1 + g.u32(..14), 0, 0, 0)
            .single()
            .expect("a valid date: day at most 15");
        // Start on a Monday so weekends fall in the same place for every seed.
        let start = start - Duration::days(start.weekday().num_days_from_monday() as i64);
        let days = 10 + g.i64(0..5);
        let tenant_id = g.guid();
        let mut w = World {
            g,
            side,
            tenant_id,
            domain,
            org,
            country,
            start,
            days,
            people: Vec::new(),
            signins: Vec::new(),
            audits: Vec::new(),
            mails: Vec::new(),
            received: BTreeMap::new(),
            targeted: BTreeSet::new(),
            attacker_ips: BTreeSet::new(),
            attacker_times: BTreeMap::new(),
            no_signin_export: false,
        };
        w.people = w.make_people();
        w
    }

    fn make_people(&mut self) -> Vec<Person> {
        let count = 40 + self.g.usize(..18);
        let mut used = BTreeSet::new();
        let mut people = Vec::new();
        while people.len() < count {
            let first = *self.g.pick(&FIRST);
            let last = *self.g.pick(&LAST);
            let login = format!("{first}.{last}");
            if !used.insert(login.clone()) {
                continue;
            }
            let name = format!(
                "{}{} {}{}",
                first[..1].to_uppercase(),
                &first[1..],
                last[..1].to_uppercase(),
                &last[1..]
            );
            people.push(self.person(&login, name));
        }
        // Roles, each on a different random person where it matters.
        let n = people.len();
        people[0].admin = true;
        people[0].name = format!("{} (IT)", people[0].name);
        if self.g.chance(0.5) {
            people[1].admin = true;
        }
        let days = self.days;
        for p in people.iter_mut().skip(2) {
            let r = self.g.f64();
            if r < 0.08 {
                p.start_day = 2 + self.g.i64(0..(days - 4));
            }
            if self.g.chance(0.12) {
                let (hotel, flight_hours) = *self.g.pick(&TRIP_DESTINATIONS);
                if hotel.country != self.country.code {
                    let depart = 1 + self.g.i64(0..(days - 6));
                    let hotel_offset = match hotel.country {
                        "GB" => 0.0,
                        "DE" => 1.0,
                        "US" => -5.0,
                        "JP" => 9.0,
                        _ => 11.0,
                    };
                    p.trip = Some(Trip {
                        depart,
                        back: depart + 3 + self.g.i64(0..3),
                        hotel: hotel.place(&self.g),
                        offset: hotel_offset - self.country.utc_offset as f64,
                        flight_hours,
                    });
                }
            }
            if self.g.chance(0.1) {
                p.mfa_slip_day = Some(self.g.i64(0..days));
            }
            if self.g.chance(0.15) {
                p.rule_day = Some(self.g.i64(0..days));
            }
        }
        // Two people who file newsletters with an inbox rule (and use neither the corporate VPN
        // nor the virtual desktops, whose users they would take away) work from rented networks
        // of their own every working day (in the tenant's country when a provider has one there,
        // else abroad): one from a dedicated address, one through a commercial VPN whose exit
        // changes daily. Drawn from their own generator, so the rest of the tenant is what it
        // was.
        let side = &self.side;
        let mut own = people.iter_mut().skip(2).filter(|p| {
            p.start_day == 0 && p.trip.is_none() && !p.vdi && !p.vpn && p.rule_day.is_some()
        });
        if let Some(p) = own.next() {
            p.dedicated = Some(region(side, &HOSTING, self.country.code).place(side));
        }
        if let Some(p) = own.next() {
            p.vpn_exits = Some(region(side, &HOSTING, self.country.code));
        }
        // Shared mailboxes with delegates.
        for local in ["accounts", "info", "reception"]
            .iter()
            .take(2 + self.g.usize(..2))
        {
            let mut shared = self.person(
                local,
                format!("{}{} (shared)", local[..1].to_uppercase(), &local[1..]),
            );
            shared.shared = true;
            shared.phone = None;
            shared.delegates = (0..2 + self.g.usize(..3))
                .map(|_| 1 + self.g.usize(..n - 1))
                .collect();
            shared.delegates.sort_unstable();
            shared.delegates.dedup();
            people.push(shared);
        }
        people
    }

    fn person(&mut self, login: &str, name: String) -> Person {
        let g = &self.g;
        let home = g.pick(self.country.residential).place(g);
        let desktop = if g.chance(0.2) {
            Desktop::Mac
        } else {
            Desktop::Windows
        };
        let personal = g.chance(0.15);
        let version = 128 + g.u32(..6);
        let (browser, user_agent) = match (desktop, g.u8(..3)) {
            (Desktop::Mac, 0) => ("Safari", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15".to_string()),
            (Desktop::Mac, _) => ("Chrome", format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36")),
            (Desktop::Windows, 0) => ("Chrome", format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36")),
            (Desktop::Windows, 1) => ("Firefox", format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{version}.0) Gecko/20100101 Firefox/{version}.0")),
            (Desktop::Windows, _) => ("Edge", format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.0.0")),
        };
        let phone = if g.chance(0.75) {
            let iphone = g.chance(0.55);
            let mail = match g.u8(..10) {
                0..=6 => PhoneMail::OutlookMobile,
                7 | 8 if iphone => PhoneMail::IosMail,
                _ => PhoneMail::ThirdParty,
            };
            Some(Phone {
                mail,
                os: if iphone { "iOS 17.5" } else { "Android 14" },
                user_agent: match (mail, iphone) {
                    (PhoneMail::OutlookMobile, true) => "Outlook-iOS/2.0",
                    (PhoneMail::OutlookMobile, false) => "Outlook-Android/2.0",
                    (PhoneMail::IosMail, _) => "Apple-iPhone15C2/2104.167",
                    (PhoneMail::ThirdParty, _) => "Android-Mail/2024.05.12.633781497.Release",
                },
                device_id: if g.chance(0.5) {
                    String::new()
                } else {
                    g.guid()
                },
            })
        } else {
            None
        };
        let heavy = g.chance(0.2);
        Person {
            upn: format!("{login}@{}", self.domain),
            name,
            object_id: g.guid(),
            puid: format!("10032001{:08X}", g.u32(..)),
            home,
            device_id: if personal { String::new() } else { g.guid() },
            managed: !personal && g.chance(0.7),
            desktop,
            browser,
            user_agent,
            phone,
            vdi: g.chance(0.15),
            vpn: g.chance(0.25),
            reads_per_day: if heavy {
                150 + g.u32(..300)
            } else {
                10 + g.u32(..60)
            },
            admin: false,
            shared: false,
            delegates: Vec::new(),
            start_day: 0,
            trip: None,
            dedicated: None,
            vpn_exits: None,
            mfa_slip_day: None,
            rule_day: None,
        }
    }

    pub fn at(&self, day: i64, hour: f64) -> DateTime<Utc> {
        local(self.start, day, hour, self.country.utc_offset)
    }

    // -----------------------------------------------------------------------------------------
    // Recording.

    pub fn signin(&mut self, who: usize, time: DateTime<Utc>, place: &Place, how: How) -> SignIn {
        let p = &self.people[who];
        let s = SignIn {
            time,
            upn: p.upn.clone(),
            name: p.name.clone(),
            user_id: p.object_id.clone(),
            request_id: self.g.guid(),
            correlation_id: self.g.guid(),
            session_id: how.session.to_string(),
            token_id: self.g.token(),
            app: how.app,
            place: place.clone(),
            error_code: how.error.0,
            failure_reason: how.error.1,
            client_app: how.client_app,
            user_agent: how.user_agent,
            device_id: how.device_id.clone(),
            browser: how.browser,
            os: how.os,
            mfa_method: how.mfa,
            protocol: how.protocol,
            interactive: how.interactive,
            managed: p.managed && !how.device_id.is_empty() && how.device_id == p.device_id,
        };
        self.signins.push(s.clone());
        s
    }

    /// The desktop browser/app sign-in parameters of a person.
    pub fn desktop_how<'a>(&self, who: usize, session: &'a str, interactive: bool) -> How<'a> {
        let p = &self.people[who];
        How {
            app: if interactive {
                OFFICE_HOME
            } else {
                OFFICE_DESKTOP
            },
            session,
            interactive,
            error: (0, ""),
            mfa: "",
            client_app: if interactive {
                "Browser"
            } else {
                "Mobile Apps and Desktop clients"
            },
            user_agent: if interactive {
                p.user_agent.clone()
            } else if p.desktop == Desktop::Mac {
                "Microsoft Outlook/16.86 (Macintosh; Intel Mac OS X 14.5)".into()
            } else {
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17628; Pro)".into()
            },
            device_id: p.device_id.clone(),
            browser: if interactive {
                p.browser
            } else {
                "Rich Client 16.0.17628"
            },
            os: if p.desktop == Desktop::Mac {
                "MacOs"
            } else {
                "Windows10"
            },
            protocol: "none",
        }
    }

    pub fn audit(
        &mut self,
        time: DateTime<Utc>,
        record_type: u32,
        operation: &str,
        user_id: &str,
        data: Value,
    ) -> String {
        let id = self.g.guid();
        let data = audit_record(
            time,
            &id,
            &self.tenant_id,
            record_type,
            operation,
            user_id,
            data,
        );
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

    /// The audit log's own copy of an Entra sign-in (UserLoggedIn / UserLoginFailed).
    pub fn audit_login(
        &mut self,
        time: DateTime<Utc>,
        who: usize,
        ip: &str,
        app_id: &str,
        user_agent: &str,
        error: u32,
        session: &str,
    ) {
        let p = &self.people[who];
        let (upn, key) = (p.upn.clone(), p.object_id.clone());
        let (op, status, detail) = if error == 0 {
            ("UserLoggedIn", "Success", "Success")
        } else {
            ("UserLoginFailed", "Failed", "Redirect")
        };
        let logon_error = match error {
            50126 => "InvalidUserNameOrPassword",
            500121 => "UserStrongAuthClientAuthNRequiredInterrupt",
            50053 => "IdsLocked",
            _ => "",
        };
        let mut data = json!({
            "ResultStatus": status, "UserKey": key, "ClientIP": ip, "ActorIpAddress": ip, "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
            "AzureActiveDirectoryEventType": 1, "ApplicationId": app_id, "ErrorNumber": error.to_string(),
            "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": detail}, {"Name": "UserAgent", "Value": user_agent}, {"Name": "RequestType", "Value": "Login:login"}],
            "DeviceProperties": [{"Name": "SessionId", "Value": session}],
            "Actor": [{"ID": key, "Type": 0}, {"ID": upn, "Type": 5}], "Target": [{"ID": "00000002-0000-0ff1-ce00-000000000000", "Type": 0}],
        });
        if !logon_error.is_empty() {
            if let Value::Object(m) = &mut data {
                m.insert("LogonError".into(), json!(logon_error));
            }
        }
        self.audit(time, 15, op, &upn, data);
    }

    /// One message from `sender` to each recipient: a trace row per recipient, and (when
    /// `audit` is given as (client info, session, app id)) the mailbox's Send record with the
    /// same InternetMessageId.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        time: DateTime<Utc>,
        sender: &str,
        recipients: &[String],
        subject: &str,
        from_ip: &str,
        audit: Option<(&str, &str, &str)>,
        by_attacker: bool,
    ) -> String {
        let host = format!(
            "{}PR{:02}MB{:04}.eurprd0{}.prod.outlook.com",
            self.g.pick(&["AM", "DB", "PA", "MW", "BN", "CH"]),
            self.g.u8(..20),
            self.g.u16(..9999),
            self.g.u8(1..9)
        );
        let message_id = self.g.message_id(&host);
        if let Some((client, session, app_id)) = audit {
            let owner = sender.to_string();
            let item_id = self.g.token();
            self.audit(time, 2, "Send", &owner, json!({
                "ResultStatus": "Succeeded", "ClientIP": from_ip, "ClientIPAddress": from_ip, "ClientInfoString": client, "LogonType": 0,
                "MailboxOwnerUPN": owner, "SessionId": session, "AppId": app_id, "ClientAppId": app_id, "ExternalAccess": false,
                "Item": {"Id": item_id, "Subject": subject, "InternetMessageId": message_id, "ParentFolder": {"Path": "\\Sent Items"}, "SizeInBytes": 18_000 + self.g.u32(..40_000)},
            }));
        }
        self.deliver(
            time + Duration::seconds(2 + self.g.i64(0..20)),
            sender,
            recipients,
            subject,
            from_ip,
            &message_id,
            by_attacker,
        );
        message_id
    }

    /// Trace rows for one message (no mailbox record: inbound mail, SMTP submission).
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &mut self,
        time: DateTime<Utc>,
        sender: &str,
        recipients: &[String],
        subject: &str,
        from_ip: &str,
        message_id: &str,
        by_attacker: bool,
    ) {
        let size = 8_000 + self.g.u32(..60_000);
        for r in recipients {
            let internal = r.ends_with(&format!("@{}", self.domain));
            let mail = Mail {
                time,
                sender: sender.into(),
                recipient: r.clone(),
                subject: subject.into(),
                status: "Delivered",
                from_ip: from_ip.into(),
                to_ip: if internal {
                    String::new()
                } else {
                    format!("52.101.{}.{}", self.g.u8(..250), self.g.u8(1..250))
                },
                size,
                message_id: message_id.into(),
                trace_id: self.g.guid(),
                by_attacker,
            };
            if internal {
                self.received
                    .entry(r.clone())
                    .or_default()
                    .push(message_id.to_string());
            }
            self.mails.push(mail);
        }
    }

    /// A MailItemsAccessed record: `Bind` lists the messages opened, `Sync` only the folder.
    #[allow(clippy::too_many_arguments)]
    pub fn read_mail(
        &mut self,
        time: DateTime<Utc>,
        actor: &str,
        owner: &str,
        ip: &str,
        client: &str,
        session: &str,
        app_id: &str,
        count: usize,
        sync: bool,
        logon_type: u32,
    ) {
        let ids: Vec<String> = {
            let own = self.received.get(owner).cloned().unwrap_or_default();
            let mut v: Vec<String> = own.iter().rev().take(count).cloned().collect();
            while v.len() < count {
                v.push(self.g.message_id("DB9PR04MB8420.eurprd04.prod.outlook.com"));
            }
            v
        };
        let folder = if sync || ids.is_empty() {
            json!([{"Id": self.g.token(), "Path": "\\Inbox"}])
        } else {
            let items: Vec<Value> = ids.iter().map(|m| json!({"Id": "RgAAAAD", "InternetMessageId": m, "SizeInBytes": 9_000 + (m.len() as u32 * 517) % 80_000})).collect();
            json!([{"Id": self.g.token(), "Path": "\\Inbox", "FolderItems": items}])
        };
        let data = json!({
            "ResultStatus": "Succeeded", "ClientIPAddress": ip, "ClientInfoString": client, "ExternalAccess": false,
            "InternalLogonType": 0, "LogonType": logon_type, "MailboxOwnerUPN": owner, "MailboxGuid": self.g.guid(), "SessionId": session,
            "AppId": app_id, "ClientAppId": if app_id == BACKUP_APP_ID { "" } else { app_id }, "OperationCount": if sync { 1 } else { count },
            "OperationProperties": [{"Name": "MailAccessType", "Value": if sync { "Sync" } else { "Bind" }}, {"Name": "IsThrottled", "Value": "False"}],
            "Folders": folder,
        });
        self.audit(time, 50, "MailItemsAccessed", actor, data);
    }

    /// An inbox rule created from Outlook or OWA (New-InboxRule), with its parameters.
    pub fn inbox_rule(
        &mut self,
        time: DateTime<Utc>,
        owner: usize,
        ip: &str,
        session: &str,
        name: &str,
        params: &[(&str, &str)],
    ) {
        let p = &self.people[owner];
        let (upn, puid, display) = (p.upn.clone(), p.puid.clone(), p.name.clone());
        let mut parameters = vec![json!({"Name": "Name", "Value": name})];
        parameters.extend(params.iter().map(|(k, v)| json!({"Name": k, "Value": v})));
        let port = 40_000 + self.g.u32(..20_000);
        self.audit(time, 1, "New-InboxRule", &upn, json!({
            "ResultStatus": "True", "UserKey": puid, "ClientIP": format!("{ip}:{port}"), "SessionId": session, "AppId": "00000002-0000-0ff1-ce00-000000000000",
            "ObjectId": format!("EURPR04A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{}/{}\\{}", self.org, display, name),
            "Parameters": parameters, "OriginatingServer": "DB9PR04MB8420 (15.20.7633.017)\r\n", "OrganizationName": self.org,
        }));
    }

    pub fn external_contact(&self) -> String {
        format!(
            "{}@{}",
            self.g.pick(&PARTNER_CONTACTS),
            self.g.pick(&PARTNERS)
        )
    }

    /// A colleague of `who` (not a shared mailbox).
    pub fn colleague(&self, who: usize) -> usize {
        loop {
            let j = self.g.usize(..self.people.len());
            if j != who && !self.people[j].shared {
                return j;
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The benign tenant.

    /// Two weeks of ordinary work.
    pub fn benign(&mut self) {
        let office = self.g.pick(self.country.office).place(&self.g);
        let vdi_net = region(&self.g, &VDI, self.country.code);
        let vdi: Vec<Place> = (0..3).map(|_| vdi_net.place(&self.g)).collect();
        let vpn_net = region(&self.g, &VPN, self.country.code);
        let vpn: Vec<Place> = (0..2).map(|_| vpn_net.place(&self.g)).collect();
        for day in 0..self.days {
            self.inbound_mail(day);
            for who in 0..self.people.len() {
                if self.people[who].shared || day < self.people[who].start_day {
                    continue;
                }
                self.workday(who, day, &office, &vdi, &vpn);
            }
            self.shared_mailboxes(day);
            self.service_actors(day);
        }
        self.helpdesk();
        self.new_employees();
        self.failed_spray();
    }

    fn inbound_mail(&mut self, day: i64) {
        let newsletter = format!(
            "news@{}",
            self.g.pick(&[
                "industryweekly.example",
                "saasupdates.example",
                "events.lucernepublishing.example"
            ])
        );
        let staff: Vec<String> = self
            .people
            .iter()
            .filter(|p| day >= p.start_day)
            .map(|p| p.upn.clone())
            .collect();
        let t = self.at(day, 6.0) + self.g.secs(0..3600);
        let id = self.g.message_id("mail.newsletter.example");
        let ip = format!("198.2.{}.{}", self.g.u8(128..192), self.g.u8(1..250));
        self.deliver(
            t,
            &newsletter,
            &staff,
            "This week in the industry",
            &ip,
            &id,
            false,
        );
        for upn in staff {
            for _ in 0..self.g.usize(1..5) {
                let t = self.at(day, 7.0) + self.g.secs(0..11 * 3600);
                let from = self.external_contact();
                let host = from
                    .split('@')
                    .nth(1)
                    .unwrap_or("partner.example")
                    .to_string();
                let id = self.g.message_id(&host);
                let subject = *self.g.pick(&SUBJECTS);
                let ip = format!("40.92.{}.{}", self.g.u8(..250), self.g.u8(1..250));
                self.deliver(
                    t,
                    &from,
                    std::slice::from_ref(&upn),
                    subject,
                    &ip,
                    &id,
                    false,
                );
            }
        }
    }

    /// Where a person is on a day, for their desktop.
    fn desktop_place(
        &self,
        who: usize,
        day: i64,
        office: &Place,
        vdi: &[Place],
        vpn: &[Place],
    ) -> (Place, f64) {
        let (place, shift) = self.usual_place(who, day, office, vdi, vpn);
        // The person's own rented network replaces the place after the same draws.
        let p = &self.people[who];
        match (&p.dedicated, &p.vpn_exits) {
            (Some(dedicated), _) => (dedicated.clone(), shift),
            (None, Some(net)) => (net.place(&self.side), shift),
            (None, None) => (place, shift),
        }
    }

    fn usual_place(
        &self,
        who: usize,
        day: i64,
        office: &Place,
        vdi: &[Place],
        vpn: &[Place],
    ) -> (Place, f64) {
        let p = self.people[who].clone();
        if let TripDay::Abroad(hotel, shift) = self.trip_day(who, day) {
            if p.vdi && self.g.chance(0.5) {
                return (vdi[who % vdi.len()].clone(), shift);
            }
            return (hotel, shift);
        }
        if p.vdi && self.g.chance(0.7) {
            return (vdi[who % vdi.len()].clone(), 0.0);
        }
        if self.g.chance(0.55) {
            return (office.clone(), 0.0);
        }
        if p.vpn && self.g.chance(0.6) {
            return (vpn[who % vpn.len()].clone(), 0.0);
        }
        (p.home.clone(), 0.0)
    }

    /// Where a traveller is: flights leave at 19:00 home time, and nothing happens until an hour
    /// after landing (so sign-ins either side of a flight are at airliner speed at most).
    pub fn trip_day(&self, who: usize, day: i64) -> TripDay {
        let Some(trip) = &self.people[who].trip else {
            return TripDay::Home;
        };
        if day <= trip.depart || day > trip.back + 1 {
            return TripDay::Home;
        }
        if day == trip.back + 1 {
            return TripDay::Gone;
        }
        let arrival = self.at(trip.depart, 19.0 + trip.flight_hours as f64 + 1.0);
        let shift = -trip.offset;
        if self.at(day, 7.0 + shift) < arrival {
            return TripDay::Gone;
        }
        TripDay::Abroad(trip.hotel.clone(), shift)
    }

    fn workday(&mut self, who: usize, day: i64, office: &Place, vdi: &[Place], vpn: &[Place]) {
        if matches!(self.trip_day(who, day), TripDay::Gone) {
            return;
        }
        let weekday = (self.start + Duration::days(day))
            .weekday()
            .num_days_from_monday()
            < 5;
        let p = self.people[who].clone();
        let (place, shift) = self.desktop_place(who, day, office, vdi, vpn);
        let session = self.g.guid();
        let begin = self.at(day, 7.5 + shift + self.g.f64() * 2.0);
        let end = begin + Duration::minutes(7 * 60 + self.g.i64(0..150));
        let at_desk = weekday || self.g.chance(0.1);

        if at_desk {
            if p.mfa_slip_day == Some(day) {
                for k in 0..self.g.i64(1..4) {
                    let how = How {
                        error: MFA_DENIED,
                        mfa: "Mobile app notification",
                        ..self.desktop_how(who, "", true)
                    };
                    let t = begin - Duration::minutes(20 - 4 * k);
                    self.signin(who, t, &place, how);
                    self.audit_login(t, who, &place.ip, OFFICE_HOME.1, &p.user_agent, 500121, "");
                }
            }
            if self.g.chance(0.04) {
                let how = How {
                    error: BAD_PASSWORD,
                    ..self.desktop_how(who, "", true)
                };
                self.signin(who, begin - Duration::seconds(50), &place, how);
            }
            let mfa = if self.g.chance(0.35) {
                "Mobile app notification"
            } else {
                ""
            };
            if !mfa.is_empty() && self.g.chance(0.3) {
                let how = How {
                    error: MFA_REQUIRED,
                    ..self.desktop_how(who, &session, true)
                };
                self.signin(who, begin - Duration::seconds(20), &place, how);
            }
            let app = *self
                .g
                .pick(&[OFFICE_HOME, OFFICE_HOME, TEAMS, OWA, SHAREPOINT]);
            let how = How {
                app,
                mfa,
                ..self.desktop_how(who, &session, true)
            };
            let s = self.signin(who, begin, &place, how);
            self.audit_login(
                begin + Duration::seconds(3),
                who,
                &place.ip,
                app.1,
                &s.user_agent,
                0,
                &session,
            );
            // Desktop token refreshes through the day.
            for _ in 0..self.g.usize(3..9) {
                let t = begin + self.g.secs(60..(end - begin).num_seconds());
                let app = *self
                    .g
                    .pick(&[OFFICE_DESKTOP, OFFICE_DESKTOP, TEAMS, SHAREPOINT]);
                let how = How {
                    app,
                    ..self.desktop_how(who, &session, false)
                };
                self.signin(who, t, &place, how);
            }
            // Reading mail at the desk: Outlook desktop/Mac, or OWA for some.
            let client = match (p.desktop, self.g.u8(..4)) {
                (_, 0) => "Client=OWA;Action=ViaProxy",
                (Desktop::Mac, _) => "Client=REST;;Outlook-Mac/16.86",
                (Desktop::Windows, _) => "Client=MSExchangeRPC",
            };
            let app_id = if client.starts_with("Client=OWA") {
                OWA.1
            } else {
                OFFICE_DESKTOP.1
            };
            let mut left = p.reads_per_day as usize;
            while left > 0 {
                let n = left.min(1 + self.g.usize(..40));
                left -= n;
                let t = begin + self.g.secs(120..(end - begin).num_seconds());
                self.read_mail(
                    t, &p.upn, &p.upn, &place.ip, client, &session, app_id, n, false, 0,
                );
            }
            if self.g.chance(0.3) {
                self.read_mail(
                    begin + Duration::minutes(2),
                    &p.upn,
                    &p.upn,
                    &place.ip,
                    client,
                    &session,
                    app_id,
                    0,
                    true,
                    0,
                );
            }
            // Mail the person sends.
            for _ in 0..self.g.usize(0..5) {
                let t = begin + self.g.secs(600..(end - begin).num_seconds());
                let to: Vec<String> = (0..self.g.usize(1..4))
                    .map(|_| {
                        if self.g.chance(0.5) {
                            let j = self.colleague(who);
                            self.people[j].upn.clone()
                        } else {
                            self.external_contact()
                        }
                    })
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let subject = *self.g.pick(&SUBJECTS);
                self.send(
                    t,
                    &p.upn,
                    &to,
                    subject,
                    &place.ip,
                    Some((client, &session, app_id)),
                    false,
                );
            }
            // Files.
            for _ in 0..self.g.usize(0..4) {
                let t = begin + self.g.secs(300..(end - begin).num_seconds());
                let file = *self.g.pick(&[
                    "Forecast.xlsx",
                    "Vendor list.xlsx",
                    "Team plan.docx",
                    "Budget.xlsx",
                    "Onboarding.pptx",
                    "Minutes.docx",
                ]);
                let op = *self.g.pick(&[
                    "FileAccessed",
                    "FileAccessed",
                    "FileModified",
                    "FileDownloaded",
                ]);
                let site = self
                    .domain
                    .split('.')
                    .next()
                    .unwrap_or("tenant")
                    .replace('-', "");
                self.audit(t, 6, op, &p.upn, json!({
                    "ClientIP": place.ip, "ObjectId": format!("https://{site}.sharepoint.com/sites/Team/Shared Documents/{file}"),
                    "UserAgent": p.user_agent, "EventSource": "SharePoint", "ItemType": "File", "SourceFileName": file,
                    "SiteUrl": format!("https://{site}.sharepoint.com/sites/Team/"), "SourceRelativeUrl": "Shared Documents",
                }));
            }
            if p.rule_day == Some(day) {
                let t = begin + self.g.secs(3600..7200);
                self.inbox_rule(
                    t,
                    who,
                    &place.ip,
                    &session,
                    "Newsletters",
                    &[
                        ("From", "news@industryweekly.example"),
                        ("MoveToFolder", "Newsletters"),
                        ("StopProcessingRules", "False"),
                    ],
                );
            }
        }
        if let Some(phone) = p.phone.clone() {
            self.phone_day(who, day, &phone, weekday, &place);
        }
    }

    /// A phone moving between Wi-Fi and the carriers through the day.
    fn phone_day(&mut self, who: usize, day: i64, phone: &Phone, weekday: bool, wifi: &Place) {
        let p = self.people[who].clone();
        let (abroad, shift) = match self.trip_day(who, day) {
            TripDay::Abroad(_, shift) => (true, shift),
            _ => (false, 0.0),
        };
        let departing = p.trip.as_ref().is_some_and(|t| t.depart == day);
        let session = self.g.guid();
        let (app, client_app) = match phone.mail {
            PhoneMail::OutlookMobile => (OUTLOOK_MOBILE, "Mobile Apps and Desktop clients"),
            // Basic authentication is off in Exchange Online: ActiveSync clients sign in with
            // OAuth and are logged as modern clients.
            PhoneMail::IosMail => (IOS_ACCOUNTS, "Mobile Apps and Desktop clients"),
            PhoneMail::ThirdParty => (OWA, "Mobile Apps and Desktop clients"),
        };
        let checks = if weekday {
            3 + self.g.usize(..6)
        } else {
            1 + self.g.usize(..3)
        };
        for _ in 0..checks {
            let hour = if departing {
                7.0 + self.g.f64() * 10.0
            } else {
                7.0 + self.g.f64() * 15.0
            };
            let t = self.at(day, hour + shift);
            // Roaming phones keep their home carrier's egress; at home or work they use Wi-Fi.
            let place = if !abroad && self.g.chance(0.35) {
                if self.g.chance(0.5) {
                    wifi.clone()
                } else {
                    p.home.clone()
                }
            } else {
                self.g.pick(self.country.carriers).place(&self.g)
            };
            let how = How {
                app,
                session: &session,
                interactive: false,
                error: (0, ""),
                mfa: "",
                client_app,
                user_agent: phone.user_agent.into(),
                device_id: phone.device_id.clone(),
                browser: "Mobile Safari",
                os: phone.os,
                protocol: "none",
            };
            self.signin(who, t, &place, how);
            let n = 1 + self.g.usize(..(p.reads_per_day as usize / 6 + 2));
            match phone.mail {
                PhoneMail::OutlookMobile => {
                    let front = EXCHANGE_FRONT_END.place(&self.g);
                    let client = if phone.os.starts_with("iOS") {
                        "Client=OutlookService;Outlook-iOS/2.0;"
                    } else {
                        "Client=OutlookService;Outlook-Android/2.0;"
                    };
                    self.read_mail(
                        t + Duration::seconds(5),
                        &p.upn,
                        &p.upn,
                        &front.ip,
                        client,
                        &session,
                        OUTLOOK_MOBILE.1,
                        n,
                        false,
                        0,
                    );
                }
                PhoneMail::IosMail | PhoneMail::ThirdParty => {
                    let client = format!("Client=ActiveSync;UserAgent={};Action=/Microsoft-Server-ActiveSync/default.eas?Cmd=Sync", phone.user_agent);
                    self.read_mail(
                        t + Duration::seconds(5),
                        &p.upn,
                        &p.upn,
                        &place.ip,
                        &client,
                        &session,
                        app.1,
                        0,
                        true,
                        0,
                    );
                }
            }
        }
    }

    fn shared_mailboxes(&mut self, day: i64) {
        let weekday = (self.start + Duration::days(day))
            .weekday()
            .num_days_from_monday()
            < 5;
        if !weekday {
            return;
        }
        for s in 0..self.people.len() {
            if !self.people[s].shared {
                continue;
            }
            let shared = self.people[s].upn.clone();
            for d in self.people[s].delegates.clone() {
                let delegate = self.people[d].clone();
                if day < delegate.start_day {
                    continue;
                }
                let t = self.at(day, 9.0 + self.g.f64() * 7.0);
                let ip = if self.g.chance(0.6) {
                    self.people[0].home.ip.clone()
                } else {
                    delegate.home.ip.clone()
                };
                let session = self.g.guid();
                let n = 5 + self.g.usize(..40);
                self.read_mail(
                    t,
                    &delegate.upn,
                    &shared,
                    &ip,
                    "Client=MSExchangeRPC",
                    &session,
                    OFFICE_DESKTOP.1,
                    n,
                    false,
                    1,
                );
                if self.g.chance(0.5) {
                    let to = vec![self.external_contact()];
                    let subject = format!("Re: {}", self.g.pick(&SUBJECTS));
                    let id = self.g.message_id("DB9PR04MB8420.eurprd04.prod.outlook.com");
                    self.audit(t + Duration::minutes(3), 2, "SendAs", &delegate.upn, json!({
                        "ResultStatus": "Succeeded", "ClientIP": ip, "ClientIPAddress": ip, "ClientInfoString": "Client=MSExchangeRPC", "LogonType": 1,
                        "MailboxOwnerUPN": shared, "SendAsUserSmtp": shared, "SessionId": session,
                        "Item": {"Id": "RgAAAAE", "Subject": subject, "InternetMessageId": id, "ParentFolder": {"Path": "\\Sent Items"}},
                    }));
                    self.deliver(
                        t + Duration::minutes(3) + Duration::seconds(4),
                        &shared,
                        &to,
                        &subject,
                        &ip,
                        &id,
                        false,
                    );
                }
            }
        }
    }

    /// Exchange, SharePoint and app actors that are not people, with Microsoft service addresses.
    fn service_actors(&mut self, day: i64) {
        let t = self.at(day, 2.0) + self.g.secs(0..3600);
        let system = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";
        let target = self.people[self.g.usize(..self.people.len())].clone();
        let front = EXCHANGE_FRONT_END.place(&self.g);
        self.audit(t, 1, "Set-Mailbox", system, json!({
            "ResultStatus": "True", "UserKey": system, "ClientIP": format!("{}:1{:04}", front.ip, self.g.u16(..9999)),
            "ObjectId": format!("EURPR04A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{}/{}", self.org, target.name),
            "Parameters": [{"Name": "Identity", "Value": target.object_id}, {"Name": "RetentionPolicy", "Value": "Default MRM Policy"}],
        }));
        let site = self
            .domain
            .split('.')
            .next()
            .unwrap_or("tenant")
            .replace('-', "");
        let t = self.at(day, 3.0) + self.g.secs(0..3600);
        let ip = EXCHANGE_FRONT_END.place(&self.g).ip;
        self.audit(t, 6, "FileModified", "app@sharepoint", json!({
            "ClientIP": ip, "ObjectId": format!("https://{site}.sharepoint.com/sites/Team/Shared Documents/Forecast.xlsx"),
            "EventSource": "SharePoint", "ItemType": "File", "UserAgent": "Microsoft.SharePoint.Search", "SourceFileName": "Forecast.xlsx",
        }));
        if self.g.chance(0.5) {
            let t = self.at(day, 14.0) + self.g.secs(0..3600);
            let country = &COUNTRIES[self.g.usize(..COUNTRIES.len())];
            let ip = self.g.pick(country.residential).place(&self.g).ip;
            self.audit(t, 14, "AnonymousLinkUsed", "anonymous", json!({
                "ClientIP": ip, "ObjectId": format!("https://{site}.sharepoint.com/sites/Team/Shared Documents/Brochure.pdf"),
                "EventSource": "SharePoint", "ItemType": "File", "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
            }));
        }
        // The mailbox backup product reads a few mailboxes every night, app-only, from Azure.
        let sp = "ServicePrincipal_6f1d2b0a-8c44-4e1e-9a57-3c2f1b7e0d21";
        let azure = VDI[0].place(&self.g);
        for _ in 0..3 {
            let owner = self.people[self.g.usize(..self.people.len())].upn.clone();
            let t = self.at(day, 1.0) + self.g.secs(0..7200);
            let session = self.g.guid();
            self.read_mail(
                t,
                sp,
                &owner,
                &azure.ip,
                "Client=REST;Client=RESTSystem;;",
                &session,
                BACKUP_APP_ID,
                0,
                true,
                0,
            );
        }
        // Entra's own directory housekeeping.
        let t = self.at(day, 4.0) + self.g.secs(0..3600);
        let entra = ENTRA_FRONT_END.place(&self.g);
        let who = self.people[self.g.usize(..self.people.len())].upn.clone();
        self.audit(t, 8, "Update user.", "ServicePrincipal_0000000c-0000-0000-c000-000000000000", json!({
            "ResultStatus": "Success", "ObjectId": who, "ActorIpAddress": entra.ip, "ClientIP": entra.ip, "AzureActiveDirectoryEventType": 1,
            "ModifiedProperties": [{"Name": "LastDirSyncTime", "NewValue": "[]", "OldValue": "[]"}, {"Name": "Included Updated Properties", "NewValue": "LastDirSyncTime", "OldValue": ""}],
            "Actor": [{"ID": "Microsoft Substrate Management", "Type": 1}, {"ID": "0000000c-0000-0000-c000-000000000000", "Type": 2}], "Target": [{"ID": who, "Type": 5}],
        }));
    }

    /// Help-desk work: password resets and session revocations for people who asked for them.
    fn helpdesk(&mut self) {
        let admin = self.people[0].clone();
        for _ in 0..1 + self.days / 4 {
            let who = self.colleague(0);
            let target = self.people[who].clone();
            let day = self.g.i64(target.start_day..self.days);
            let t = self.at(day, 10.0 + self.g.f64() * 5.0);
            for op in [
                "Reset user password.",
                "Update StsRefreshTokenValidFrom Timestamp.",
            ] {
                self.audit(t, 8, op, &admin.upn, json!({
                    "ResultStatus": "Success", "ObjectId": target.upn, "ActorIpAddress": admin.home.ip, "ClientIP": admin.home.ip, "AzureActiveDirectoryEventType": 1,
                    "ModifiedProperties": [], "Actor": [{"ID": admin.upn, "Type": 5}], "Target": [{"ID": target.upn, "Type": 5}],
                    "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "User"}],
                }));
            }
            // The user signs in again with the new password.
            let session = self.g.guid();
            let how = How {
                mfa: "Mobile app notification",
                ..self.desktop_how(who, &session, true)
            };
            self.signin(who, t + Duration::minutes(12), &target.home, how);
        }
    }

    /// New starters: created by the admin, register MFA on their first sign-in.
    fn new_employees(&mut self) {
        let admin = self.people[0].clone();
        for who in 0..self.people.len() {
            let p = self.people[who].clone();
            if p.start_day == 0 || p.shared {
                continue;
            }
            let t = self.at(p.start_day - 1, 15.0);
            self.audit(t, 8, "Add user.", &admin.upn, json!({
                "ResultStatus": "Success", "ObjectId": p.upn, "ActorIpAddress": admin.home.ip, "ClientIP": admin.home.ip, "AzureActiveDirectoryEventType": 1,
                "Actor": [{"ID": admin.upn, "Type": 5}], "Target": [{"ID": p.upn, "Type": 5}],
            }));
            let t = self.at(p.start_day, 9.2);
            self.audit(t, 8, "User registered security info.", &p.upn, json!({
                "ResultStatus": "Success", "ObjectId": p.upn, "ActorIpAddress": p.home.ip, "ClientIP": p.home.ip, "AzureActiveDirectoryEventType": 1,
                "ModifiedProperties": [{"Name": "StrongAuthenticationMethod", "NewValue": "[{\"MethodType\":6,\"Default\":true}]", "OldValue": "[]"}],
                "Actor": [{"ID": p.upn, "Type": 5}], "Target": [{"ID": p.upn, "Type": 5}],
            }));
        }
    }

    /// A password spray that fails everywhere: a foreign hosting address tries a few passwords
    /// against many accounts. The accounts are targeted, not compromised.
    fn failed_spray(&mut self) {
        let source = loop {
            let n = *self.g.pick(&HOSTING);
            if n.country != self.country.code {
                break n;
            }
        };
        let ip = source.place(&self.g);
        let day = self.g.i64(0..self.days);
        let mut t = self.at(day, self.g.f64() * 24.0);
        let victims = 8 + self.g.usize(..11);
        let mut picked = BTreeSet::new();
        while picked.len() < victims {
            let j = self.g.usize(..self.people.len());
            if !self.people[j].shared {
                picked.insert(j);
            }
        }
        let ua = *self.g.pick(&["BAV2ROPC", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36", "python-requests/2.31.0"]);
        for j in picked {
            for _ in 0..self.g.usize(1..3) {
                t += self.g.secs(5..90);
                let how = How {
                    app: OWA,
                    session: "",
                    interactive: true,
                    error: BAD_PASSWORD,
                    mfa: "",
                    client_app: if ua == "BAV2ROPC" {
                        "Authenticated SMTP"
                    } else {
                        "Browser"
                    },
                    user_agent: ua.into(),
                    device_id: String::new(),
                    browser: "",
                    os: "",
                    protocol: if ua == "BAV2ROPC" { "ropc" } else { "none" },
                };
                self.signin(j, t, &ip, how);
                self.audit_login(t + Duration::seconds(1), j, &ip.ip, OWA.1, ua, 50126, "");
            }
            let upn = self.people[j].upn.clone();
            self.targeted.insert(upn);
        }
    }

    /// Records attacker activity on an account at a time whose address is not the attacker's
    /// (the victim's own sign-in that handed over a device code or a consent).
    pub fn mark_time(&mut self, who: usize, time: DateTime<Utc>) {
        let upn = self.people[who].upn.clone();
        self.attacker_times.entry(upn).or_default().push(time);
    }

    /// Records attacker activity on an account at a time, from an address.
    pub fn mark(&mut self, who: usize, time: DateTime<Utc>, ip: &str) {
        let upn = self.people[who].upn.clone();
        self.attacker_times.entry(upn).or_default().push(time);
        self.attacker_ips.insert(ip.to_string());
    }
}
