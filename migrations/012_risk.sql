-- Risk engine (风控): rule set versions, lists, the decision log, cases.

CREATE TABLE risk_rule_sets (
  version      integer PRIMARY KEY,
  name         text NOT NULL,
  document     jsonb NOT NULL,
  status       text NOT NULL CHECK (status IN ('draft', 'active', 'shadow', 'retired')),
  created_by   text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL,
  activated_at timestamptz
);
-- At most one live and one shadow version.
CREATE UNIQUE INDEX risk_rule_sets_one_active ON risk_rule_sets ((true)) WHERE status = 'active';
CREATE UNIQUE INDEX risk_rule_sets_one_shadow ON risk_rule_sets ((true)) WHERE status = 'shadow';

CREATE SEQUENCE risk_list_seq;
CREATE TABLE risk_list_entries (
  id          bigint PRIMARY KEY,
  list        text NOT NULL CHECK (list IN ('black', 'white', 'grey')),
  entity      text NOT NULL CHECK (entity IN ('card', 'device', 'ip', 'user', 'phone', 'bank_account', 'merchant')),
  value       text NOT NULL,
  expires_at  timestamptz,
  source      text NOT NULL,
  reason      text NOT NULL DEFAULT '',
  created_by  text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL,
  removed_at  timestamptz,
  -- Every change takes a new seq and time: other processes follow the lists by them (see risk.store).
  seq         bigint NOT NULL DEFAULT nextval('risk_list_seq'),
  changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX risk_list_entries_live ON risk_list_entries (entity, value, list) WHERE removed_at IS NULL;
CREATE INDEX risk_list_entries_seq ON risk_list_entries (seq);
CREATE INDEX risk_list_entries_changed ON risk_list_entries (changed_at);

CREATE TABLE risk_decisions (
  id          bigint PRIMARY KEY,
  event_id    text NOT NULL,
  event_kind  text NOT NULL,
  event       jsonb NOT NULL,
  at          timestamptz NOT NULL,
  version     integer NOT NULL,
  shadow      boolean NOT NULL DEFAULT false,
  action      text NOT NULL,
  rule        text,
  matched     jsonb NOT NULL,
  features    jsonb NOT NULL,
  scores      jsonb NOT NULL,
  errors      jsonb NOT NULL DEFAULT '[]',
  latency_us  integer NOT NULL
);
CREATE INDEX risk_decisions_at ON risk_decisions (at, id);
CREATE INDEX risk_decisions_event ON risk_decisions (event_id);

CREATE TABLE risk_cases (
  id            bigint PRIMARY KEY,
  event_id      text NOT NULL UNIQUE,
  subject_kind  text NOT NULL,
  subject_id    text NOT NULL,
  merchant      text,
  version       integer NOT NULL,
  rule          text,
  reason        text NOT NULL,
  event         jsonb NOT NULL,
  status        text NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
  note          text NOT NULL DEFAULT '',
  decided_by    text,
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL
);
CREATE INDEX risk_cases_open ON risk_cases (created_at) WHERE status = 'open';

CREATE TABLE risk_merchant_breakers (
  merchant    text PRIMARY KEY,
  state       text NOT NULL CHECK (state IN ('tripped', 'released')),
  mode        text NOT NULL CHECK (mode IN ('hold', 'refuse')),
  score       integer,
  reason      text NOT NULL,
  tripped_at  timestamptz NOT NULL,
  released_at timestamptz,
  released_by text
);

CREATE TABLE risk_audit (
  id         bigint PRIMARY KEY,
  kind       text NOT NULL,
  subject    text NOT NULL,
  details    jsonb NOT NULL,
  actor      text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX risk_audit_subject ON risk_audit (subject, created_at);

-- The related-account graph (关联账户): which user carried which shared value, and who paid whom.
CREATE TABLE risk_graph_edges (
  seq        bigserial PRIMARY KEY,
  user_id    text NOT NULL,
  entity     text NOT NULL,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (user_id, entity, value)
);
CREATE INDEX risk_graph_edges_created ON risk_graph_edges (created_at);
CREATE TABLE risk_money_flows (
  seq        bigserial PRIMARY KEY,
  payer      text NOT NULL,
  payee      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (payer, payee)
);
CREATE INDEX risk_money_flows_created ON risk_money_flows (created_at);

CREATE TABLE risk_alerts (
  id         bigint PRIMARY KEY,
  kind       text NOT NULL,
  subject    text NOT NULL,
  details    jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX risk_alerts_created ON risk_alerts (created_at);
