-- A link mail whose link expired (or was about to) before the relay could take it: never sent,
-- kept as a dead letter (`mail list --dead`, `mail retry` issues a fresh link) marked expired.
alter table outbox add column expired_at bigint;
