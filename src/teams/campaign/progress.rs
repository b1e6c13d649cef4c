//! What a campaign tells as it goes and at its end: how each person is reached, what became of
//! them, how far it is.

use std::time::Duration;

use crate::model::ConversationRef;

/// How a person is reached.
#[derive(Debug, Clone)]
pub enum Route {
    /// A 1:1 conversation the bot already has with them.
    Stored(ConversationRef),
    /// A member of one of the organisation's teams: a 1:1 chat is created.
    Roster {
        user_id: String,
        object_id: Option<String>,
    },
}

impl Route {
    pub fn label(&self) -> &'static str {
        match self {
            Route::Stored(_) => "stored conversation",
            Route::Roster { .. } => "team roster",
        }
    }

    /// Requests to the connector: the post, after creating the chat for a roster member.
    pub fn requests(&self) -> usize {
        match self {
            Route::Stored(_) => 1,
            Route::Roster { .. } => 2,
        }
    }
}

/// Where a run stands, told after each person.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// Requests still to make for the people not yet done.
    pub requests_left: usize,
    /// The pace now, requests per second.
    pub per_second: f64,
}

impl Progress {
    /// How long the rest should take at the current pace.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs_f64(self.requests_left as f64 / self.per_second.max(0.1))
    }
}

/// What happened to one account in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reached(&'static str),
    WouldReach(&'static str),
    NotFound,
    /// Certainly not delivered: the next run tries again.
    Failed(String),
    /// Perhaps delivered: never tried again in this campaign.
    Uncertain(String),
    /// Not tried: `--limit` reached, or the run stopped (Teams kept refusing).
    Left,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub campaign: String,
    pub dry_run: bool,
    pub never_enrolled: usize,
    pub already_enrolled: usize,
    /// Never-enrolled accounts this campaign wrote to in an earlier run.
    pub already_reached: usize,
    /// Per account (username order): this run's outcome.
    pub accounts: Vec<(String, Outcome)>,
    /// What the admin should know (no roster, roster refused, run stopped).
    pub notes: Vec<String>,
    /// Requests made to the connector, 429s met, and the pace at the end (requests per second).
    pub requests: u64,
    pub throttled: u32,
    pub per_second: f64,
}

impl Summary {
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.accounts.iter().filter(|(_, o)| pred(o)).count()
    }
}
