//! The values that the domain and the store both speak: accounts and their names, link tokens,
//! the password policy, the records of requests made from Teams, instants. Below both, so that neither imports the other's
//! words: the store maps rows to these types, the domain decides what they mean.

mod account;
pub mod events;
pub mod policy;
mod teams;
mod time;
mod token;

pub use account::*;
pub use teams::*;
pub use time::UnixTime;
pub use token::*;
