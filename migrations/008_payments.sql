-- Payments: channel accounts and routing rules, merchant payment orders paid by one or more legs
-- (channel attempts, prepaid cards, stored-value balances), refunds split over legs, the merchant
-- notification outbox, inbound channel notifications and alerts. Money never lives here: every
-- movement is a ledger transfer whose idempotency key ties it to a row below.

-- A channel account (渠道账户/商户号) Paycore pays through: the platform's own (aggregated, 间连)
-- or one merchant's own contract (direct, 直连). Credentials are sealed with the master key.
CREATE TABLE channel_accounts (
  id                 bigint PRIMARY KEY,
  code               text NOT NULL UNIQUE,
  provider           text NOT NULL CHECK (provider IN ('wechatpay', 'alipay', 'unionpay', 'bank')),
  mode               text NOT NULL CHECK (mode IN ('direct', 'aggregated')),
  merchant_id        bigint,
  config_sealed      text NOT NULL,
  methods            text[] NOT NULL,
  currencies         text[] NOT NULL DEFAULT '{CNY}',
  fee_bps            integer NOT NULL DEFAULT 0 CHECK (fee_bps BETWEEN 0 AND 10000),
  fee_fixed          bigint NOT NULL DEFAULT 0 CHECK (fee_fixed >= 0),
  fee_min            bigint NOT NULL DEFAULT 0 CHECK (fee_min >= 0),
  fee_max            bigint CHECK (fee_max IS NULL OR fee_max >= fee_min),
  per_tx_min         bigint NOT NULL DEFAULT 1 CHECK (per_tx_min >= 1),
  per_tx_max         bigint CHECK (per_tx_max IS NULL OR per_tx_max >= per_tx_min),
  daily_limit        bigint CHECK (daily_limit IS NULL OR daily_limit > 0),
  bank_limits        jsonb NOT NULL DEFAULT '{}',
  maintenance        jsonb NOT NULL DEFAULT '[]',
  priority           integer NOT NULL DEFAULT 100,
  status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  receivable_account_id bigint NOT NULL,
  cost_account_id    bigint NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  CONSTRAINT channel_accounts_direct_has_merchant CHECK (mode = 'aggregated' OR merchant_id IS NOT NULL)
);

-- Operator routing rules; the whole set is read on every routing decision (cached briefly).
CREATE TABLE routing_rules (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
  priority    integer NOT NULL,
  match       jsonb NOT NULL,
  action      jsonb NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL
);

CREATE TABLE payment_orders (
  id                bigint PRIMARY KEY,
  order_no          text NOT NULL UNIQUE,
  merchant_id       bigint NOT NULL,
  merchant_order_no text NOT NULL,
  request_hash      text NOT NULL,
  amount            bigint NOT NULL CHECK (amount > 0),
  currency          text NOT NULL,
  subject           text NOT NULL,
  notify_url        text NOT NULL,
  return_url        text,
  methods           text[] NOT NULL,
  expires_at        timestamptz NOT NULL,
  status            text NOT NULL CHECK (status IN ('created', 'processing', 'unknown', 'succeeded', 'failed', 'closed')),
  -- Combined payments (组合支付): how the legs are run, and the allowed leg kinds.
  strategy          text NOT NULL DEFAULT 'saga' CHECK (strategy IN ('saga', 'topup_then_pay')),
  payer_customer_id bigint,
  fee_amount        bigint NOT NULL DEFAULT 0,
  refunded_amount   bigint NOT NULL DEFAULT 0,
  failure_code      text,
  succeeded_at      timestamptz,
  closed_at         timestamptz,
  metadata          jsonb NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT payment_orders_merchant_no UNIQUE (merchant_id, merchant_order_no),
  CONSTRAINT payment_orders_refund_bounded CHECK (refunded_amount <= amount)
);
CREATE INDEX payment_orders_open ON payment_orders (expires_at) WHERE status IN ('created', 'processing', 'unknown');
CREATE INDEX payment_orders_merchant ON payment_orders (merchant_id, id);

-- One leg of an order: a channel attempt (a new one per try; at most one may succeed per
-- channel leg), a prepaid card hold, or a stored-value balance hold.
CREATE TABLE payment_legs (
  id                 bigint PRIMARY KEY,
  order_id           bigint NOT NULL REFERENCES payment_orders (id),
  leg_no             integer NOT NULL,
  kind               text NOT NULL CHECK (kind IN ('channel', 'card', 'balance')),
  amount             bigint NOT NULL CHECK (amount > 0),
  status             text NOT NULL CHECK (status IN ('created', 'pending', 'unknown', 'held', 'succeeded', 'failed', 'closed', 'cancelled')),
  -- channel legs
  channel_account_id bigint REFERENCES channel_accounts (id),
  method             text,
  out_trade_no       text UNIQUE,
  channel_trade_no   text,
  action             jsonb,
  route_trace        jsonb,
  fee_amount         bigint NOT NULL DEFAULT 0,
  channel_cost       bigint NOT NULL DEFAULT 0,
  -- internal legs: the card or the stored-value ledger account, and the hold's transfer
  card_id            bigint,
  card_tx_id         bigint,
  ledger_account_id  bigint,
  hold_transfer_id   bigint,
  refunded_amount    bigint NOT NULL DEFAULT 0,
  failure_code       text,
  failure_message    text,
  query_attempts     integer NOT NULL DEFAULT 0,
  next_query_at      timestamptz,
  paid_at            timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  CONSTRAINT payment_legs_refund_bounded CHECK (refunded_amount <= amount)
);
CREATE INDEX payment_legs_order ON payment_legs (order_id, leg_no, id);
CREATE INDEX payment_legs_to_query ON payment_legs (next_query_at) WHERE status IN ('pending', 'unknown') AND next_query_at IS NOT NULL;

CREATE TABLE payment_refunds (
  id                 bigint PRIMARY KEY,
  refund_no          text NOT NULL UNIQUE,
  order_id           bigint NOT NULL REFERENCES payment_orders (id),
  merchant_id        bigint NOT NULL,
  merchant_refund_no text NOT NULL,
  request_hash       text NOT NULL,
  amount             bigint NOT NULL CHECK (amount > 0),
  reason             text NOT NULL DEFAULT '',
  -- 'compensation' refunds undo a failed combined payment; the payer pays no fee for them.
  purpose            text NOT NULL DEFAULT 'merchant' CHECK (purpose IN ('merchant', 'compensation')),
  status             text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed')),
  failure_code       text,
  succeeded_at       timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  CONSTRAINT payment_refunds_merchant_no UNIQUE (merchant_id, merchant_refund_no)
);
CREATE INDEX payment_refunds_order ON payment_refunds (order_id, id);

-- A refund's share of one leg, sent to that leg's channel (or applied to the card / balance).
CREATE TABLE payment_refund_parts (
  id                bigint PRIMARY KEY,
  refund_id         bigint NOT NULL REFERENCES payment_refunds (id),
  leg_id            bigint NOT NULL REFERENCES payment_legs (id),
  amount            bigint NOT NULL CHECK (amount > 0),
  fee_returned      bigint NOT NULL DEFAULT 0,
  out_refund_no     text NOT NULL UNIQUE,
  channel_refund_no text,
  status            text NOT NULL CHECK (status IN ('created', 'processing', 'unknown', 'succeeded', 'failed')),
  failure_code      text,
  query_attempts    integer NOT NULL DEFAULT 0,
  next_query_at     timestamptz,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX payment_refund_parts_refund ON payment_refund_parts (refund_id);
CREATE INDEX payment_refund_parts_to_query ON payment_refund_parts (next_query_at) WHERE status IN ('created', 'processing', 'unknown');

-- Merchant notification outbox (written in the same transaction as the state change).
CREATE TABLE merchant_notifications (
  id              bigint PRIMARY KEY,
  merchant_id     bigint NOT NULL,
  order_id        bigint,
  refund_id       bigint,
  event_type      text NOT NULL,
  url             text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status     integer,
  last_error      text,
  created_at      timestamptz NOT NULL,
  delivered_at    timestamptz,
  CONSTRAINT merchant_notifications_event UNIQUE (merchant_id, event_type, order_id, refund_id)
);
CREATE INDEX merchant_notifications_due ON merchant_notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX merchant_notifications_merchant ON merchant_notifications (merchant_id, id);

CREATE TABLE merchant_notification_attempts (
  id              bigint PRIMARY KEY,
  notification_id bigint NOT NULL REFERENCES merchant_notifications (id),
  attempted_at    timestamptz NOT NULL,
  http_status     integer,
  error           text,
  duration_ms     integer NOT NULL
);
CREATE INDEX merchant_notification_attempts_n ON merchant_notification_attempts (notification_id, id);

-- Every notification a channel sent us, verified or not, and what we did with it.
CREATE TABLE channel_notifications (
  id                 bigint PRIMARY KEY,
  channel_account_id bigint NOT NULL,
  received_at        timestamptz NOT NULL,
  verified           boolean NOT NULL,
  out_trade_no       text,
  event              jsonb,
  outcome            text NOT NULL
);
CREATE INDEX channel_notifications_trade ON channel_notifications (out_trade_no) WHERE out_trade_no IS NOT NULL;

-- Suspicious things an operator should look at (forged or mismatched notifications, ...).
CREATE TABLE payment_alerts (
  id          bigint PRIMARY KEY,
  kind        text NOT NULL,
  severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  order_id    bigint,
  leg_id      bigint,
  details     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL,
  resolved_at timestamptz,
  resolved_by text
);
CREATE INDEX payment_alerts_open ON payment_alerts (id) WHERE resolved_at IS NULL;

-- Paycore's own RSA key for signing merchant notifications to merchants that registered only RSA
-- credentials (they verify with the public key from GET /v1/platform-keys). Sealed.
CREATE TABLE platform_signing_keys (
  key_id         text PRIMARY KEY,
  private_sealed text NOT NULL,
  public_key_pem text NOT NULL,
  created_at     timestamptz NOT NULL
);
