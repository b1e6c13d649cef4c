-- One account per (organisation, Entra object id): a Teams or tab identity can never resolve to
-- two accounts. Accounts without an object id are not constrained. A directory that already
-- holds a duplicate stops here: re-import it with each object id on one row, then start again.
create unique index account_object_id_unique on account (tenant_id, entra_object_id)
    where entra_object_id is not null;
