-- A service-desk agent's check that a caller owns an account: a one-time code sent to the
-- account's owner (Teams, else mail) and read back to the agent. The code is kept only as an
-- HMAC under a key derived from the service key; `tries` counts wrong codes (3 end the check);
-- `confirmed_at` opens the agent's verified actions for a while; `denied_at` is the owner's
-- « Je n'ai pas appelé ».
create table caller_check (
    id                    text primary key,
    tenant_id             text not null,
    account_id            text not null,
    agent_object_id       text not null,
    agent_name            text not null,
    code_hash             text not null,
    sent_by               text not null,
    created_at            bigint not null,
    expires_at            bigint not null,
    tries                 bigint not null default 0,
    confirmed_at          bigint,
    denied_at             bigint
);
create index caller_check_account on caller_check (tenant_id, account_id, created_at);
