-- Enrolment campaigns (`octopus-teams campaign enroll`): one row per person a campaign wrote to.
-- The row is written before the card is posted (state `sending`) and so is never posted twice
-- for one account in one campaign, even when the command is interrupted between the two: an
-- interrupted `sending` row may have been delivered and is not retried. A post the connector
-- certainly refused removes the row, so the next run tries again.
create table campaign_send (
    campaign        text not null,             -- the campaign's name (default enroll-<org slug>)
    tenant_id       text not null,
    account_id      text not null references account (account_id) on delete cascade,
    state           text not null,             -- sending | sent | uncertain
    conversation_id text,
    created_at      bigint not null,
    updated_at      bigint not null,
    primary key (campaign, account_id)
);
