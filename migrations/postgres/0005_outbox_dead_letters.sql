-- Dead letters: mail the relay refused for good (5xx), or that failed `mail.max_attempts` times.
-- The row stays for tracing (message_id, last_error), is never claimed again, and its sealed
-- payload is erased.
alter table outbox add column dead_at bigint;
