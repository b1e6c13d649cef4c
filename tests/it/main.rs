//! The one integration-test binary: the real server on loopback with its stand-ins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod harness;

mod bot_auth;
mod bot_cards;
mod bot_conversation;
mod browser_journey;
mod cards;
mod cli;
mod connector;
mod housekeeping;
mod identity;
mod instances;
mod login;
mod mail_outbox;
mod mail_relay;
mod manifest;
mod operations;
mod rate_limits;
mod reset_link;
mod store;
mod tab;
