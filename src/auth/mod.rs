//! Token-signing keys published behind OpenID metadata, shared by the bot (Bot Framework channel
//! tokens) and the tab (Entra ID tokens).

pub mod entra_channel;
pub mod jwks;
pub mod token;
pub mod verified;
