//! THE DOMAIN: accounts, links, passwords, limits; what it does is written to the audit
//! ([`crate::audit`]). No HTTP, no Teams, no sqlx types in
//! public signatures.

pub mod agent;
pub mod argon;
pub mod caller;
pub mod desk_request;
pub mod error;
pub mod hasher;
pub mod helpdesk;
pub mod history;
pub mod limits;
pub mod outbox;
pub mod reminder;
pub mod report;
pub mod request;
pub mod service;
pub mod signin;
pub mod unlock;

pub use error::{LinkProblem, ResetError};
pub use service::ResetService;
pub use signin::SignInService;
