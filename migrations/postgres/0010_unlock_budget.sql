-- Failures counted toward the hard lock over a window, across self-service unlocks: an unlock
-- forgets the consecutive failures (the temporary lock) but not these. Only a new password or a
-- service-desk agent clears them.
alter table signin_guard add column strikes integer not null default 0;
alter table signin_guard add column strikes_since bigint not null default 0;
