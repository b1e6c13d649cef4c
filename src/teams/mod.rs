//! Everything only Microsoft Teams needs: the bot (`POST /api/messages`), the tab, the tokens
//! Teams and the Bot Framework sign, and the app package. The domain below knows nothing of it.

pub mod auth;
pub mod bot;
pub mod manifest;
pub mod tab;
