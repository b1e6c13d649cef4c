-- When the page behind a link was first opened (GET; the link stays usable): the service desk's
-- status card tells "sent but never opened" from "opened, not used". Null: never opened.
alter table reset_token add column opened_at integer;
