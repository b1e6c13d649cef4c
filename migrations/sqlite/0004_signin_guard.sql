-- Sign-in lockout per (organisation, username), kept for usernames that match no account too,
-- so that "locked" says nothing about which accounts exist. Checks are reserved here before any
-- hashing (one conditional upsert), so a burst of parallel guesses gets at most the threshold.
-- `subject` is the SHA-256 of the normalised username: no typed text is kept.
create table signin_guard (
    tenant_id    text not null,
    subject      text not null,
    failures     integer not null,            -- consecutive failures
    pending      integer not null,            -- checks reserved and not yet settled
    reserved_at  integer not null,            -- the latest reservation; older ones count as abandoned
    locked_until integer,                     -- no check before this time
    updated_at   integer not null,
    primary key (tenant_id, subject)
);
create index signin_guard_updated on signin_guard (updated_at);
