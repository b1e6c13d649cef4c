//! What operators rely on: in the service as the tests run it (metrics, request ids, strict
//! configuration) and on the real binary (`serve`, `migrate`, `users list`, SIGTERM, `/readyz`
//! with the database cut off).

mod binary;
mod in_process;

pub(crate) use binary::submit;
