//! octopus-teams: the Octopus ITSM password self-service (reset and enrolment by emailed,
//! expiring link) for the browser and, later, Microsoft Teams.

pub mod app;
pub mod at_rest;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod housekeeping;
pub mod http;
pub mod i18n;

pub mod mail;

pub mod metrics;
pub mod model;
pub mod org;
pub mod reset;
pub mod scim;
pub mod service_key;
pub mod store;
pub mod teams;
pub mod telemetry;
pub mod templates;
pub mod web;
