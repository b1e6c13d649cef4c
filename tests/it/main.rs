//! The one integration-test binary: the real server on loopback with its stand-ins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod harness;

mod bot_account;
mod bot_admission;
mod bot_auth;
mod bot_cards;
mod bot_conversation;
mod bot_turns;
mod browser_journey;
mod campaign;
mod cards;
mod channels;
mod cli;
mod client_address;
mod connector;
mod entra_channel;
mod enumeration;
mod forged_requests;
mod hardening;
mod helpdesk;
mod housekeeping;
mod identity;
mod instances;
mod lockout;
mod login;
mod mail_headers;
mod mail_outbox;
mod mail_relay;
mod manifest;
mod operations;
mod ops;
mod org_words;
mod page_language;
mod playground;
mod playground_linked;
mod rate_limits;
mod report;
mod reset_link;
mod side_doors;
mod store;
mod tab;
mod tab_tenants;
mod teams_identity;
mod unlock;
mod username_reminder;
