-- Accounts that left the directory: kept with their history, refused by every self-service
-- path. `disabled_by` says which source did it (scim, import). `deleted_at`: a SCIM DELETE,
-- which also disables and hides the account from SCIM (GET answers 404) until it is created
-- again. `external_id`: the identity source's own id for the account (SCIM externalId).
alter table account add column disabled_at integer;
alter table account add column disabled_by text;
alter table account add column deleted_at integer;
alter table account add column external_id text;
create index account_external_id on account (tenant_id, external_id);

-- SCIM provisioning tokens: only the SHA-256 of the bearer token is kept. A rotated token keeps
-- working until `expires_at` (a grace period while the Entra admin pastes the new one).
create table scim_token (
    token_hash  blob primary key,
    tenant_id   text not null,
    created_at  integer not null,
    expires_at  integer
);
create index scim_token_tenant on scim_token (tenant_id);
