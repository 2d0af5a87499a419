//! Historical search / Exchange admin center downloadable reports (often UTF-16): the enhanced
//! summary (`origin_timestamp_utc`, `recipient_status` listing every recipient as
//! `address##events`) and the extended / MessageTraceDetail report (`date_time_utc`, one row per
//! event such as RECEIVE, DELIVER, SEND, FAIL). See docs/formats.md, "Message trace".

use std::borrow::Cow;

use crate::model::Event;
use crate::normalize::columns::{cell, Header};
use crate::normalize::message_trace::MessageFields;
use crate::normalize::{Decode, Record, RowCtx, RowError};

pub struct MessageTraceReport {
    /// True for the extended (per-event) report.
    detail: bool,
    time: Option<usize>,
    time_name: &'static str,
    sender: Option<usize>,
    recipients: Option<usize>,
    recipient_status: Option<usize>,
    subject: Option<usize>,
    size: Option<usize>,
    message_id: Option<usize>,
    network_message_id: Option<usize>,
    client_ip: Option<usize>,
    server_ip: Option<usize>,
    direction: Option<usize>,
    event: Option<usize>,
}

impl MessageTraceReport {
    pub fn new(h: &Header, detail: bool) -> MessageTraceReport {
        let time_name = if detail {
            "date_time_utc"
        } else {
            "origin_timestamp_utc"
        };
        MessageTraceReport {
            detail,
            time: h.find(&[
                "origin_timestamp_utc",
                "origin_timestamp",
                "date_time_utc",
                "date_time",
            ]),
            time_name,
            sender: h.find(&["sender_address"]),
            recipients: h.find(&["recipient_address"]),
            recipient_status: h.find(&["recipient_status"]),
            subject: h.find(&["message_subject"]),
            size: h.find(&["total_bytes"]),
            message_id: h.find(&["message_id"]),
            network_message_id: h.find(&["network_message_id"]),
            client_ip: h.find(&["original_client_ip", "client_ip"]),
            server_ip: h.find(&["server_ip"]),
            direction: h.find(&["directionality"]),
            event: h.find(&["event_id"]),
        }
    }
}

impl Decode for MessageTraceReport {
    fn decode(
        &self,
        record: Record<'_>,
        cx: &mut RowCtx,
        out: &mut Vec<Event>,
    ) -> Result<(), RowError> {
        let row = record.csv()?;
        let c = |i: Option<usize>| {
            Some(cell(row, i))
                .filter(|v| !v.trim().is_empty())
                .map(Cow::Borrowed)
        };
        let time = c(self.time).ok_or_else(|| RowError::missing(self.time_name))?;
        let f = MessageFields {
            time: Some((self.time_name, time)),
            sender: c(self.sender),
            subject: c(self.subject),
            size: c(self.size),
            message_id: c(self.message_id),
            trace_id: c(self.network_message_id),
            from_ip: c(self.client_ip),
            to_ip: if self.detail { c(self.server_ip) } else { None },
            direction: c(self.direction),
            event: c(self.event),
            ..MessageFields::default()
        };
        // Recipients with their status: `a@x##Receive, Deliver;b@y##Receive, Send`.
        let mut recipients: Vec<(String, Option<String>)> = Vec::new();
        if let Some(list) = c(self.recipient_status).filter(|_| !self.detail) {
            for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
                let (address, events) = entry.split_once("##").unwrap_or((entry, ""));
                recipients.push((
                    address.trim().to_string(),
                    Some(summary_status(events).to_string()),
                ));
            }
        } else if let Some(list) = c(self.recipients) {
            for address in list.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                recipients.push((address.to_string(), None));
            }
        }
        if recipients.is_empty() {
            return Err(RowError::field(
                if self.detail {
                    "recipient_address"
                } else {
                    "recipient_status"
                },
                "no recipient listed",
            ));
        }
        let start = out.len();
        for (address, status) in &recipients {
            let mut fields = MessageFields {
                status: status.as_deref().map(Cow::Borrowed),
                ..f.clone_borrowed()
            };
            fields.recipient = None;
            out.push(fields.into_event(cx, Some(address))?);
        }
        debug_assert!(out.len() > start);
        Ok(())
    }
}

/// The delivery status a summary's event list ends in (`Receive, Deliver` -> Delivered).
fn summary_status(events: &str) -> &'static str {
    let last = events
        .rsplit(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match last.as_str() {
        "deliver" | "send" => "Delivered",
        "fail" | "drop" => "Failed",
        "expand" => "Expanded",
        "defer" | "receive" | "submit" => "Pending",
        "" => "Unknown",
        _ => "Other",
    }
}

impl<'a> MessageFields<'a> {
    /// A copy that borrows this one's text.
    fn clone_borrowed(&self) -> MessageFields<'_> {
        fn b<'s>(v: &'s Option<Cow<'_, str>>) -> Option<Cow<'s, str>> {
            v.as_deref().map(Cow::Borrowed)
        }
        MessageFields {
            time: self.time.as_ref().map(|(n, t)| (*n, Cow::Borrowed(&**t))),
            sender: b(&self.sender),
            recipient: b(&self.recipient),
            subject: b(&self.subject),
            status: b(&self.status),
            from_ip: b(&self.from_ip),
            to_ip: b(&self.to_ip),
            size: b(&self.size),
            message_id: b(&self.message_id),
            trace_id: b(&self.trace_id),
            direction: b(&self.direction),
            event: b(&self.event),
        }
    }
}
