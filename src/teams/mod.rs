//! Everything only Microsoft Teams needs: the bot (`POST /api/messages`), the tab, the tokens
//! Teams and the Bot Framework sign, enrolment campaigns, which account a Teams identity is
//! linked to, and the app package. The domain below knows nothing of it.

pub mod auth;
pub mod bot;
pub mod campaign;
pub mod identity;
pub mod manifest;
pub mod tab;
