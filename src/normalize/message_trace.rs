//! Exchange Online message trace, one row per recipient: `Get-MessageTrace` (V1, remote-session
//! columns `PSComputerName,...`), `Get-MessageTraceV2` and Microsoft-Extractor-Suite CSV, the
//! Exchange admin center message-trace download, and the same objects written as JSON.
//! `Received` is culture-formatted text in the CSVs (docs/formats.md, "Message trace").

use std::borrow::Cow;

use crate::model::{Event, Outcome, Source};
use crate::normalize::columns::{Header, NamedColumns};
use crate::normalize::json_fields;
use crate::normalize::{
    ip, opt_id, push_attr, push_attr_id, text, Decode, FieldValue, Record, RowCtx, RowError,
};

/// One message-trace row's facts.
#[derive(Default, Debug)]
pub struct MessageFields<'a> {
    pub time: Option<(&'static str, Cow<'a, str>)>,
    pub sender: Option<Cow<'a, str>>,
    pub recipient: Option<Cow<'a, str>>,
    pub subject: Option<Cow<'a, str>>,
    pub status: Option<Cow<'a, str>>,
    pub from_ip: Option<Cow<'a, str>>,
    pub to_ip: Option<Cow<'a, str>>,
    pub size: Option<Cow<'a, str>>,
    pub message_id: Option<Cow<'a, str>>,
    pub trace_id: Option<Cow<'a, str>>,
    pub direction: Option<Cow<'a, str>>,
    /// Historical-report event (`RECEIVE`, `DELIVER`, `SEND`, `FAIL`...), where rows are events.
    pub event: Option<Cow<'a, str>>,
}

impl<'a> MessageFields<'a> {
    pub fn set(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        crate::normalize::json::with_lower(key, |key| self.set_lower(key, v))
    }

    fn set_lower(&mut self, key: &str, v: FieldValue<'a>) -> bool {
        let slot = match key {
            "received" | "date" => {
                self.time = v.text().map(|t| ("Received", t));
                return true;
            }
            "senderaddress" => &mut self.sender,
            "recipientaddress" => &mut self.recipient,
            "subject" => &mut self.subject,
            "status" => &mut self.status,
            "fromip" => &mut self.from_ip,
            "toip" => &mut self.to_ip,
            "size" => &mut self.size,
            "messageid" => &mut self.message_id,
            "messagetraceid" => &mut self.trace_id,
            _ => return false,
        };
        *slot = v.text();
        true
    }

    /// Builds one event for `recipient` (rows listing several recipients call this per recipient).
    pub fn into_event(&self, cx: &mut RowCtx, recipient: Option<&str>) -> Result<Event, RowError> {
        let (field, value) = self
            .time
            .as_ref()
            .ok_or_else(|| RowError::missing("Received"))?;
        let time = cx.time(field, value)?;
        let sender = self
            .sender
            .as_deref()
            .and_then(text::present)
            .ok_or_else(|| RowError::missing("SenderAddress"))?;
        let mut e = Event::new(
            time,
            Source::Messagetrace,
            text::user(sender),
            text::intern_name("Message"),
        );
        e.outcome = delivery_outcome(self.event.as_deref().or(self.status.as_deref()));
        if let Some(raw) = self.from_ip.as_deref().and_then(text::present) {
            e.ip = ip::parse(raw);
            if e.ip.is_none() {
                push_attr(&mut e, "ip_unparsed", raw);
            }
        }
        e.object = self.subject.as_deref().and_then(crate::normalize::opt);
        e.record_id = self.trace_id.as_deref().and_then(opt_id);
        if let Some(r) = recipient
            .or(self.recipient.as_deref())
            .and_then(text::present)
        {
            e.attrs
                .push((text::intern_name("recipient"), text::user(r)));
        }
        for (name, value) in [
            ("subject", &self.subject),
            ("status", &self.status),
            ("event", &self.event),
            ("to_ip", &self.to_ip),
            ("size", &self.size),
            ("direction", &self.direction),
        ] {
            if let Some(v) = value.as_deref() {
                push_attr(&mut e, name, v);
            }
        }
        if let Some(id) = self.message_id.as_deref() {
            push_attr_id(&mut e, "message_id", id);
        }
        Ok(e)
    }
}

/// Delivery status (or historical-report event) to outcome.
fn delivery_outcome(status: Option<&str>) -> Outcome {
    let s = status.unwrap_or("").trim().to_ascii_lowercase();
    match s.as_str() {
        "delivered" | "expanded" | "resolved" | "deliver" | "send" | "redirect" => Outcome::Success,
        "failed" | "fail" | "filteredasspam" | "filtered as spam" | "quarantined" | "dropped" => {
            Outcome::Failure
        }
        _ => Outcome::Unknown,
    }
}

/// Message-trace CSV with `Received` / `SenderAddress` / `RecipientAddress` columns.
pub struct MessageTraceCsv {
    columns: NamedColumns,
}

/// Header names (normalized) to field keys; V1/V2 PowerShell and EAC download spellings.
const ALIASES: &[(&str, &str)] = &[
    ("received", "Received"),
    ("date (utc)", "Received"),
    ("date", "Received"),
    ("received time", "Received"),
    ("senderaddress", "SenderAddress"),
    ("sender address", "SenderAddress"),
    ("sender", "SenderAddress"),
    ("recipientaddress", "RecipientAddress"),
    ("recipient address", "RecipientAddress"),
    ("recipient", "RecipientAddress"),
    ("subject", "Subject"),
    ("status", "Status"),
    ("delivery status", "Status"),
    ("fromip", "FromIP"),
    ("from ip", "FromIP"),
    ("toip", "ToIP"),
    ("to ip", "ToIP"),
    ("size", "Size"),
    ("messageid", "MessageId"),
    ("message id", "MessageId"),
    ("messagetraceid", "MessageTraceId"),
    ("message trace id", "MessageTraceId"),
];

impl MessageTraceCsv {
    pub fn new(h: &Header) -> MessageTraceCsv {
        MessageTraceCsv {
            columns: NamedColumns::by_alias(h, ALIASES),
        }
    }
}

impl Decode for MessageTraceCsv {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let mut f = MessageFields::default();
        self.columns.for_each(row, |key, v| {
            f.set(key, FieldValue::Cell(v));
        });
        out.push(f.into_event(cx, None)?);
        Ok(())
    }
}

/// Message-trace objects written as JSON (`Get-MessageTraceV2 | ConvertTo-Json`).
pub struct MessageTraceJson;

impl Decode for MessageTraceJson {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let text = record.json()?;
        let mut f = MessageFields::default();
        json_fields(text, "message trace record", |k, v| {
            f.set(k, v);
        })?;
        out.push(f.into_event(cx, None)?);
        Ok(())
    }
}
