-- Times are unix seconds (INTEGER) handed in by the application's Clock, so that SQLite and
-- PostgreSQL behave the same and tests can move time without touching SQL now().

-- The account directory, imported by the admin (`users import`). One row per portal account.
create table account (
    account_id      text primary key,
    tenant_id       text not null,
    username        text not null,            -- normalised (trimmed, lower case)
    email           text not null,
    display_name    text not null,
    entra_object_id text,                     -- links a Teams / Entra identity to the account
    upn             text,                     -- lower case
    locale          text,                     -- preferred language (fr-CA, en, pt) or null
    password_hash   text,                     -- argon2id PHC string; null until enrolled
    failed_logins   integer not null default 0,
    locked_until    integer,                  -- growing delay after consecutive failures
    created_at      integer not null,
    updated_at      integer not null,
    unique (tenant_id, username)
);
create index account_object_id on account (tenant_id, entra_object_id);
create index account_upn on account (tenant_id, upn);

-- Reset and enrolment links: only the SHA-256 of the token is kept.
create table reset_token (
    token_id       text primary key,
    token_hash     blob not null unique,
    account_id     text not null references account (account_id) on delete cascade,
    purpose        text not null,             -- reset | enroll
    locale         text not null,
    created_at     integer not null,
    expires_at     integer not null,
    used_at        integer,
    revoked_at     integer,
    revoked_reason text                       -- superseded | cancelled | completed
);
create index reset_token_account on reset_token (account_id);

-- Signed-in browser sessions on the login page; only the hash of the cookie value is kept.
create table login_session (
    session_hash blob primary key,
    account_id   text not null references account (account_id) on delete cascade,
    persistent   integer not null,
    created_at   integer not null,
    expires_at   integer not null
);
create index login_session_account on login_session (account_id);

-- Durable mail outbox. The payload (which carries the link) is encrypted with the service key
-- and erased once the mail is sent; the row stays for tracing (message_id).
create table outbox (
    outbox_id       text primary key,
    template        text not null,
    recipient       text not null,
    locale          text not null,
    tenant_id       text not null,
    payload         blob,
    message_id      text not null,
    created_at      integer not null,
    next_attempt_at integer not null,
    attempts        integer not null default 0,
    lease_until     integer,
    sent_at         integer,
    last_error      text
);
create index outbox_due on outbox (sent_at, next_attempt_at);

-- Fixed-window rate-limit counters, shared by every instance through the database.
create table rate_limit (
    bucket       text not null,
    window_start integer not null,
    hits         integer not null,
    primary key (bucket, window_start)
);

-- What happened, for auditors. Never a password, a token or a hash.
create table audit_event (
    audit_id    integer primary key autoincrement,
    occurred_at integer not null,
    tenant_id   text,
    account_id  text,
    event       text not null,
    client      text,
    detail      text
);
create index audit_event_account on audit_event (account_id);
