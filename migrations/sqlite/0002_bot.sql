-- The Teams bot: where to reach people, which activities were handled, and the live status cards.

-- A conversation reference per conversation, refreshed from every authenticated activity, so the
-- bot can write later (proactive messages, card updates). Only a serviceUrl that arrived in an
-- authenticated activity is ever stored.
create table bot_conversation (
    conversation_id   text primary key,
    tenant_id         text not null,
    service_url       text not null,
    bot_id            text not null,
    user_id           text,
    aad_object_id     text,
    conversation_type text,
    updated_at        integer not null
);

-- Activities already handled: Teams redelivers after about 15 s. The invoke answer is kept so a
-- redelivered invoke gets the same answer without acting twice.
create table processed_activity (
    activity_key text primary key,
    response     text,
    created_at   integer not null
);

-- A request made from Teams and the card that shows its status.
create table bot_request (
    token_id         text primary key,
    tenant_id        text not null,
    conversation_id  text not null,
    card_activity_id text,
    user_id          text not null,
    aad_object_id    text,
    locale           text not null,
    purpose          text not null,
    masked_email     text,             -- only when the Teams identity matched the account
    expires_at       integer not null,
    state            text not null,    -- sent | opened | changed | superseded | cancelled
    created_at       integer not null,
    updated_at       integer not null
);
