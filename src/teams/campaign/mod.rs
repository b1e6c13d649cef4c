//! Enrolment campaigns (`octopus-teams campaign enroll`): one card « M'inscrire au service » to
//! each person of an organisation whose account never had a password, in their 1:1 chat with the
//! bot. Its button is the welcome card's `enroll`: the bot answers with the enrolment form,
//! username prefilled, as when the person writes « m'inscrire ».
//!
//! - Who: the organisation's accounts without a password, less those the campaign already wrote
//!   to. A campaign is its name (default `enroll-<org slug>`): running it again continues it.
//! - Where: a stored 1:1 conversation whose Entra object id is the account's, else the 1:1 chat
//!   created with the member of the organisation's teams (paged roster) who is the account's
//!   owner by the bot's identity rules (object id; UPN or email only for accounts without one).
//! - Never twice: the account is claimed in `campaign_send` before the card is posted. A post
//!   the connector certainly refused gives the claim back (the next run tries again); one that
//!   may have arrived (timeout, 500/502/504) keeps it, so at worst a person gets no card.
//! - Rate limits: every request to the connector (create the chat, post the card) waits its turn
//!   at a pacer (`teams::bot::pace`) set just under the organisation's `teams_requests_per_second`
//!   (Teams' limit per app per tenant). Each person has a conversation of their own and gets
//!   one post in it, far under Teams' per-conversation limits (7 a second, 1,800 an hour), so
//!   the run spreads over people: as many in progress at once as the rate needs given the
//!   connector's answer time. A 429 holds every request for its Retry-After and lowers the
//!   rate; when Teams keeps refusing, the run stops and leaves the rest to the next one.
//! - Stopping: `stop` (Ctrl-C) ends the run after the people in progress, as does an error
//!   (reported once they have ended). A crash, or a second Ctrl-C, leaves the claims of the
//!   people in progress: nobody is written to twice, and the next run continues without them
//!   (they may have got their card; `campaign_send` shows them in state `sending`).

pub mod cli;
mod progress;
pub mod records;

pub use progress::{Outcome, Progress, Route, Summary};

use crate::teams::bot::cards::Card;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use futures_util::{StreamExt, stream::FuturesUnordered};
use serde_json::json;
use tracing::{info, warn};

use crate::model::{Account, ConversationRef};
use crate::teams::bot::{
    activity::OutgoingActivity,
    cards::{Cards, with_language},
    connector::{ConnectorClient, ConnectorError},
    pace::Pacer,
};
use crate::{
    org::Organisation,
    teams::campaign::records::{Campaigns, Delivered, Endpoint},
};

/// The share of `teams_requests_per_second` a campaign takes: the rest is the margin that keeps
/// an evenly paced run clear of Teams' counting window.
pub const SHARE: f64 = 0.95;
/// People in progress at once, at most.
const MAX_IN_PROGRESS: usize = 64;
/// Pages of a team's roster read at most (Teams serves up to 500 members a page).
const MAX_ROSTER_PAGES: usize = 1_000;

/// What a campaign needs: its records, the Bot Connector with the bot's app credentials (paced
/// by `pacer`), the cards; what to tell of the progress, and when to stop.
pub struct Campaigner {
    pub campaigns: Campaigns,
    pub connector: ConnectorClient,
    pub cards: Cards,
    pub pacer: Arc<Pacer>,
    /// Told before the first person (done 0) and after each.
    pub progress: Box<dyn Fn(Progress) + Send + Sync>,
    /// Set: no one more is started; the people in progress end.
    pub stop: Arc<AtomicBool>,
}

/// How one post ended, for the run.
enum Sent {
    Done(Outcome),
    /// Teams keeps refusing (429 / 503 after the client's retries): stop the run here.
    Stop(Outcome),
}

impl Campaigner {
    /// Runs (or, with `dry_run`, plans) the enrolment campaign `name` for `org`: at most `limit`
    /// people are written to.
    // Long: the campaign's steps in the order an admin reads its summary: pending people, routes,
    // the writes, the counts.
    pub async fn enroll(
        &self,
        org: &Organisation,
        name: &str,
        dry_run: bool,
        limit: Option<usize>,
    ) -> anyhow::Result<Summary> {
        let candidates = self.campaigns.candidates(&org.tenant_id, name).await?;
        let pending = candidates.pending;
        let mut summary = Summary {
            campaign: name.to_string(),
            dry_run,
            never_enrolled: candidates.never_enrolled,
            already_enrolled: candidates.already_enrolled,
            ..Summary::default()
        };
        summary.already_reached = summary.never_enrolled - pending.len();
        let (routes, endpoint) = self.routes(org, &pending, &mut summary.notes).await?;
        anyhow::ensure!(
            pending.is_empty() || endpoint.is_some() || !routes.is_empty(),
            "nobody can be reached: the bot has never heard from this organisation, so its Teams \
             address (serviceUrl) is unknown; install the app in the team, or write to the bot \
             once, then run again"
        );

        // Who this run writes to, in username order; the others' outcomes are known now.
        let mut outcomes: HashMap<&str, Outcome> = HashMap::new();
        let mut to_write: Vec<(&Account, &Route)> = Vec::new();
        for account in &pending {
            let id = account.id.0.as_str();
            match routes.get(id) {
                None => {
                    outcomes.insert(id, Outcome::NotFound);
                }
                Some(_) if limit.is_some_and(|n| to_write.len() >= n) => {
                    outcomes.insert(id, Outcome::Left);
                }
                Some(r) if dry_run => {
                    to_write.push((account, r));
                    outcomes.insert(id, Outcome::WouldReach(r.label()));
                }
                Some(r) => to_write.push((account, r)),
            }
        }
        if !dry_run {
            self.write_to(
                org,
                name,
                &to_write,
                endpoint.as_ref(),
                &mut outcomes,
                &mut summary.notes,
            )
            .await?;
        }
        for account in &pending {
            let outcome = outcomes
                .remove(account.id.0.as_str())
                .unwrap_or(Outcome::Left);
            summary
                .accounts
                .push((account.username.to_string(), outcome));
        }
        summary.requests = self.pacer.requests();
        summary.throttled = self.pacer.throttled_count();
        summary.per_second = self.pacer.per_second();
        Ok(summary)
    }

    /// Writes to each of `people`, as many in progress at once as the pace needs, until all are
    /// done, Teams keeps refusing, or `stop` is set.
    // Long: one loop owns the people in progress and the three ways it stops; split, that state
    // would travel between functions.
    async fn write_to<'a>(
        &self,
        org: &Organisation,
        name: &str,
        people: &[(&'a Account, &Route)],
        endpoint: Option<&Endpoint>,
        outcomes: &mut HashMap<&'a str, Outcome>,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let mut requests_left: usize = people.iter().map(|(_, r)| r.requests()).sum();
        let total = people.len();
        let tell = |done: usize, requests_left: usize| {
            (self.progress)(Progress {
                done,
                total,
                requests_left,
                per_second: self.pacer.per_second(),
            });
        };
        tell(0, requests_left);
        let mut queue = people.iter();
        let mut in_progress = FuturesUnordered::new();
        let mut done = 0;
        let mut teams_refusing = false;
        // The first error (the app token refused, the database gone): nobody more is started,
        // the people in progress end and their outcomes are recorded, then it is returned.
        let mut failed: Option<anyhow::Error> = None;
        loop {
            while !teams_refusing
                && failed.is_none()
                && !self.stop.load(Ordering::SeqCst)
                && in_progress.len() < self.pacer.parallelism(MAX_IN_PROGRESS)
            {
                let Some(&(account, route)) = queue.next() else {
                    break;
                };
                in_progress.push(async move {
                    let sent = self.send(org, name, account, route, endpoint).await;
                    (account, route, sent)
                });
            }
            let Some((account, route, sent)) = in_progress.next().await else {
                break;
            };
            let outcome = match sent {
                Err(e) => {
                    failed.get_or_insert(e);
                    continue;
                }
                Ok(Sent::Done(o)) => o,
                Ok(Sent::Stop(o)) => {
                    if !teams_refusing {
                        notes.push(
                            "Teams kept refusing (rate limited or unavailable): the run \
                             stopped; run the same command later to continue"
                                .into(),
                        );
                    }
                    teams_refusing = true;
                    o
                }
            };
            outcomes.insert(account.id.0.as_str(), outcome);
            done += 1;
            requests_left = requests_left.saturating_sub(route.requests());
            tell(done, requests_left);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if self.stop.load(Ordering::SeqCst) && done < total {
            notes.push(
                "stopped (Ctrl-C) after the people in progress: run the same command to continue"
                    .into(),
            );
        }
        Ok(())
    }

    /// Where each pending account can be reached, and the organisation's connector endpoint
    /// (serviceUrl, bot id) when one is known.
    // Long: the stored chats first, then each team's roster page by page, with the guard against
    // a roster that repeats its pages.
    async fn routes(
        &self,
        org: &Organisation,
        pending: &[Account],
        notes: &mut Vec<String>,
    ) -> anyhow::Result<(HashMap<String, Route>, Option<Endpoint>)> {
        let wanted: HashSet<&str> = pending.iter().map(|a| a.id.0.as_str()).collect();
        let known = self.campaigns.known(org, &wanted).await?;
        let endpoint = known.endpoint;
        let mut routes: HashMap<String, Route> = known
            .conversations
            .into_iter()
            .map(|(id, r)| (id, Route::Stored(r)))
            .collect();
        if routes.len() == wanted.len() {
            return Ok((routes, endpoint));
        }
        let Some(Endpoint { service_url, .. }) = &endpoint else {
            notes.push(
                "the bot has never heard from this organisation, so its Teams address \
                 (serviceUrl) is unknown: install the app in the team, or write to the bot once, \
                 then run again to reach the team's members"
                    .into(),
            );
            return Ok((routes, endpoint));
        };
        if org.team_ids.is_empty() {
            notes.push("no team_ids configured for this organisation: no roster to read".into());
        }
        for team in &org.team_ids {
            let mut continuation: Option<String> = None;
            let mut seen_tokens = HashSet::new();
            for _ in 0..MAX_ROSTER_PAGES {
                let page = match self
                    .connector
                    .roster_page(service_url, team, continuation.as_deref())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        warn!(team.id = %team, error = %e, "team roster unavailable");
                        notes.push(format!("the roster of team {team} could not be read: {e}"));
                        break;
                    }
                };
                for m in page.members {
                    let acc = self.owner(org, &m.member).await?;
                    if let Some(acc) = acc.filter(|a| wanted.contains(a.id.0.as_str())) {
                        routes.entry(acc.id.0).or_insert(Route::Roster {
                            user_id: m.id,
                            object_id: m.member.object_id,
                        });
                    }
                }
                // A token seen before would read the same pages again, forever.
                match page.continuation_token.filter(|t| !t.is_empty()) {
                    Some(t) if seen_tokens.insert(t.clone()) => continuation = Some(t),
                    Some(_) => {
                        warn!(team.id = %team, "team roster repeats a continuation token: stopped");
                        notes.push(format!(
                            "the roster of team {team} repeated a page: read up to it"
                        ));
                        break;
                    }
                    None => break,
                }
            }
        }
        Ok((routes, endpoint))
    }

    /// The account a team member owns, by the bot's identity rules.
    async fn owner(
        &self,
        org: &Organisation,
        m: &crate::teams::bot::connector::TeamsMember,
    ) -> anyhow::Result<Option<Account>> {
        Ok(self
            .campaigns
            .owner(
                org,
                m.object_id.as_deref(),
                &crate::teams::bot::identity::naming(m),
            )
            .await?)
    }

    /// Claims the account, opens the chat if needed, posts the card, records how it ended.
    // Long: one person's claim, chat, card and record, each outcome recorded where it happens so
    // that a rerun resumes exactly.
    async fn send(
        &self,
        org: &Organisation,
        name: &str,
        account: &Account,
        route: &Route,
        endpoint: Option<&Endpoint>,
    ) -> anyhow::Result<Sent> {
        let id = account.id.0.as_str();
        if !self.campaigns.claim(name, &org.tenant_id, id).await? {
            // Another run of the same campaign took it meanwhile, or the person enrolled.
            return Ok(Sent::Done(Outcome::Left));
        }
        let (service_url, conversation) = match route {
            Route::Stored(r) => (r.service_url.clone(), r.conversation_id.clone()),
            Route::Roster { user_id, object_id } => {
                let Some(Endpoint {
                    service_url,
                    bot_id,
                }) = endpoint
                else {
                    return self.give_back(name, id, "no serviceUrl").await;
                };
                let created = self
                    .connector
                    .personal_conversation(service_url, bot_id, user_id, &org.tenant_id)
                    .await;
                // Creating a 1:1 chat posts nothing: any failure leaves the person unwritten.
                let conversation = match created {
                    Ok(c) => c,
                    Err(e) => return self.refused(name, id, None, e).await,
                };
                let reference = ConversationRef {
                    conversation_id: conversation.clone(),
                    tenant_id: org.tenant_id.clone(),
                    service_url: service_url.clone(),
                    bot_id: bot_id.clone(),
                    user_id: Some(user_id.clone()),
                    aad_object_id: object_id.clone(),
                    conversation_type: Some("personal".into()),
                };
                self.campaigns.save_conversation(&reference).await?;
                (service_url.clone(), conversation)
            }
        };
        let locale = account.locale.unwrap_or(org.default_locale);
        let card = self
            .cards
            .render(Card::Invite, locale, json!({"orgName": org.name}));
        let mut out = OutgoingActivity::card(with_language(card, locale));
        out.locale = Some(locale.tag().to_string());
        match self.connector.send(&service_url, &conversation, &out).await {
            Ok(_) => {
                self.campaigns
                    .settle(name, id, Delivered::Sent, &conversation)
                    .await?;
                info!(
                    campaign = name,
                    how = route.label(),
                    "enrolment card posted"
                );
                Ok(Sent::Done(Outcome::Reached(route.label())))
            }
            Err(e) if e.certainly_refused() => self.refused(name, id, Some(&conversation), e).await,
            Err(e) => {
                self.campaigns
                    .settle(name, id, Delivered::Uncertain, &conversation)
                    .await?;
                Ok(Sent::Done(Outcome::Uncertain(e.to_string())))
            }
        }
    }

    /// The connector refused: nothing was posted, the claim is given back. A closed
    /// conversation is forgotten; a bad app token ends the run (every post would fail).
    async fn refused(
        &self,
        name: &str,
        id: &str,
        conversation: Option<&str>,
        e: ConnectorError,
    ) -> anyhow::Result<Sent> {
        let closed = conversation.filter(|_| e.is_gone());
        self.campaigns.release(name, id, closed).await?;
        match e {
            ConnectorError::Token(why) => anyhow::bail!(
                "the bot's app token was refused ({why}): check bot.app_id, bot.app_password and \
                 bot.app_tenant_id"
            ),
            ConnectorError::Status(429 | 503) => Ok(Sent::Stop(Outcome::Failed(e.to_string()))),
            e => Ok(Sent::Done(Outcome::Failed(e.to_string()))),
        }
    }

    async fn give_back(&self, name: &str, id: &str, why: &str) -> anyhow::Result<Sent> {
        self.campaigns.release(name, id, None).await?;
        Ok(Sent::Done(Outcome::Failed(why.into())))
    }
}
