//! breachline: offline investigation of Microsoft 365 account takeovers from exported evidence.
//!
//! Data flows one way: [`ingest`] (find files, decode text, frame records, detect the variant)
//! -> [`normalize`] (one decoder per export format, all producing [`model::Event`]) ->
//! [`enrich`] (country, ASN and network kind of every IP) -> [`timeline`] (per-user ordering) -> [`report`] (tables, CSV, JSON). [`cli`] wires them.
//! [`ruletest`] (`rules test`) runs the rules' own tests and test-case folders through the
//! whole pipeline, so it sits above [`detect`], beside the CLI.

pub mod cli;
pub mod detect;
pub mod enrich;
pub mod impact;
pub mod ingest;
pub mod model;
pub mod normalize;
pub mod report;
pub mod ruletest;
pub mod stages;
pub mod timeline;
pub mod timing;
