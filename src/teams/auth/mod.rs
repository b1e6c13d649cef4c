//! Bearer tokens: the one JWT decoder (`jwt`), the signing keys published behind OpenID metadata
//! (`jwks`), and the rules of the channel tokens the bot receives (`channel`, `entra_channel`,
//! with the `verified` cache). The tab's Entra ID tokens have their rules in `tab::sso`.

pub mod channel;
pub mod entra_channel;
pub mod jwks;
pub mod jwt;
pub mod verified;
