//! What can go wrong in the domain; each surface (page, JSON, card) translates the variant.

use crate::model::policy::PolicyViolation;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Never issued, or not one of ours.
    Unknown,
    Expired,
    Used,
    /// Superseded by a newer request, cancelled, or revoked by a completed change.
    Revoked,
}

impl LinkProblem {
    pub fn code(self) -> &'static str {
        match self {
            LinkProblem::Unknown => "unknown",
            LinkProblem::Expired => "expired",
            LinkProblem::Used => "used",
            LinkProblem::Revoked => "revoked",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the link cannot be used ({})", .0.code())]
    Link(LinkProblem),
    #[error("the password breaks the policy")]
    Policy(Vec<PolicyViolation>),
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The hashing queue is full: try again shortly (503 with Retry-After).
    #[error("busy; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ResetError {
    /// A hashing failure: `Busy` when the queue was full, else internal.
    pub fn from_hashing(e: anyhow::Error) -> Self {
        if e.is::<super::hasher::QueueFull>() {
            ResetError::Busy {
                retry_after_secs: super::hasher::RETRY_AFTER_SECS,
            }
        } else {
            ResetError::Internal(e)
        }
    }
}

impl From<StoreError> for ResetError {
    fn from(e: StoreError) -> Self {
        ResetError::Internal(anyhow::Error::new(e).context("store"))
    }
}
