-- Prepaid stored-value cards (预付卡): policies, products, cards, their audit trail and their
-- transactions. Money never lives here: every balance is a ledger account (one for principal, one
-- for promotional bonus, one for the offline e-cash purse); these tables hold the card facts and
-- the business record of each operation, with the idempotency key that ties it to its transfers.

INSERT INTO accounting_subjects (code, name, name_en, type, parent_code) VALUES
  ('225105', '预付卡赠送余额', 'Prepaid card promotional bonus', 'liability', '2251'),
  ('225106', '预付卡电子现金', 'Prepaid card offline e-cash purses', 'liability', '2251'),
  ('6601', '销售费用', 'Selling expenses', 'expense', NULL),
  ('660101', '营销赠送', 'Promotional bonus granted', 'expense', '6601');

-- Versioned regulatory policies. A version is immutable once written: decisions record the
-- version they were made under, so a later change never rewrites history.
CREATE TABLE card_policies (
  version        text PRIMARY KEY,
  effective_from timestamptz NOT NULL,
  document       jsonb NOT NULL,
  created_at     timestamptz NOT NULL
);

CREATE TABLE card_products (
  id                 bigint PRIMARY KEY,
  code               text NOT NULL UNIQUE,
  name               text NOT NULL,
  issuer_kind        text NOT NULL CHECK (issuer_kind IN ('platform', 'merchant')),
  issuer_merchant_id bigint,
  -- Escrow (存管) class of the issuer: the share of its outstanding balance it must keep in escrow.
  issuer_class       text NOT NULL DEFAULT 'B' CHECK (issuer_class IN ('A', 'B', 'C')),
  purpose            text NOT NULL CHECK (purpose IN ('single', 'multi')),
  named              boolean NOT NULL,
  currency           text NOT NULL,
  bin_prefix         text NOT NULL CHECK (bin_prefix ~ '^[0-9]{1,11}$'),
  number_length      integer NOT NULL CHECK (number_length BETWEEN 13 AND 19),
  validity_months    integer CHECK (validity_months IS NULL OR validity_months > 0),
  rechargeable       boolean NOT NULL,
  issuance_fee       bigint NOT NULL DEFAULT 0 CHECK (issuance_fee >= 0),
  replacement_fee    bigint NOT NULL DEFAULT 0 CHECK (replacement_fee >= 0),
  bonus_rules        jsonb NOT NULL DEFAULT '[]',
  bonus_spend_order  text NOT NULL DEFAULT 'principal_first' CHECK (bonus_spend_order IN ('principal_first', 'bonus_first')),
  policy_version     text NOT NULL REFERENCES card_policies (version),
  policy_overrides   jsonb NOT NULL DEFAULT '{}',
  next_serial        bigint NOT NULL DEFAULT 1,
  status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at         timestamptz NOT NULL,
  CONSTRAINT card_products_single_purpose_issuer CHECK (purpose = 'multi' OR (issuer_kind = 'merchant' AND issuer_merchant_id IS NOT NULL)),
  CONSTRAINT card_products_prefix_unique UNIQUE (bin_prefix, number_length)
);

-- Merchants that accept a product's cards (multi-purpose: contracted merchants; single-purpose:
-- the issuer's own stores). The issuing merchant of a single-purpose product always accepts it.
CREATE TABLE card_product_merchants (
  product_id  bigint NOT NULL REFERENCES card_products (id),
  merchant_id bigint NOT NULL,
  added_at    timestamptz NOT NULL,
  PRIMARY KEY (product_id, merchant_id)
);

CREATE TABLE cards (
  id                  bigint PRIMARY KEY,
  product_id          bigint NOT NULL REFERENCES card_products (id),
  serial              bigint NOT NULL,
  number_sealed       text NOT NULL,
  number_hash         text NOT NULL UNIQUE,
  last4               text NOT NULL,
  named               boolean NOT NULL,
  status              text NOT NULL CHECK (status IN ('in_stock', 'active', 'frozen', 'loss_reported', 'lost', 'replaced', 'expired', 'closed')),
  -- The state to return to when a loss report is withdrawn or an expired card is reactivated.
  prior_status        text CHECK (prior_status IN ('active', 'frozen')),
  holder_customer_id  bigint,
  principal_account_id bigint NOT NULL,
  bonus_account_id    bigint NOT NULL,
  purse_account_id    bigint NOT NULL,
  pin_hash            text,
  pin_failed_attempts integer NOT NULL DEFAULT 0,
  pin_locked_until    timestamptz,
  batch_id            bigint NOT NULL,
  sale_id             bigint,
  sold_at             timestamptz,
  valid_until         timestamptz,
  loss_reported_at    timestamptz,
  replaced_by         bigint REFERENCES cards (id),
  replaced_from       bigint REFERENCES cards (id),
  policy_version      text NOT NULL,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  CONSTRAINT cards_serial_unique UNIQUE (product_id, serial)
);
CREATE INDEX cards_product_status ON cards (product_id, status);
CREATE INDEX cards_holder ON cards (holder_customer_id) WHERE holder_customer_id IS NOT NULL;
CREATE INDEX cards_loss_reported ON cards (loss_reported_at) WHERE status = 'loss_reported';

-- Every state change: who, when, why.
CREATE TABLE card_events (
  id          bigint PRIMARY KEY,
  card_id     bigint NOT NULL REFERENCES cards (id),
  event       text NOT NULL,
  from_status text NOT NULL,
  to_status   text NOT NULL,
  reason      text NOT NULL DEFAULT '',
  actor       text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL
);
CREATE INDEX card_events_card ON card_events (card_id, id);

-- Sales (购卡): one purchase of one or more cards, with the facts the policy decided on.
CREATE TABLE card_sales (
  id              bigint PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  request_hash    text NOT NULL,
  buyer_kind      text NOT NULL CHECK (buyer_kind IN ('individual', 'organization')),
  buyer_customer_id bigint,
  payment_method  text NOT NULL,
  total           bigint NOT NULL,
  card_count      integer NOT NULL,
  policy_version  text NOT NULL,
  created_at      timestamptz NOT NULL
);

-- The business record of each money operation on a card. Its ledger transfers carry idempotency
-- keys derived from `idempotency_key`, so a retried operation can never move money twice.
CREATE TABLE card_transactions (
  id               bigint PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE,
  request_hash     text NOT NULL,
  card_id          bigint NOT NULL REFERENCES cards (id),
  kind             text NOT NULL CHECK (kind IN ('load', 'recharge', 'consume', 'void', 'refund', 'replacement', 'redeem', 'purse_load', 'offline_debit', 'breakage')),
  status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  amount           bigint NOT NULL CHECK (amount >= 0),
  principal_amount bigint NOT NULL DEFAULT 0,
  bonus_amount     bigint NOT NULL DEFAULT 0,
  fee_amount       bigint NOT NULL DEFAULT 0,
  merchant_id      bigint,
  terminal_id      text,
  related_id       bigint REFERENCES card_transactions (id),
  refunded_amount  bigint NOT NULL DEFAULT 0,
  voided           boolean NOT NULL DEFAULT false,
  payment_method   text,
  failure_code     text,
  business_date    date NOT NULL,
  policy_version   text NOT NULL,
  metadata         jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL,
  CONSTRAINT card_transactions_refund_bounded CHECK (refunded_amount <= amount)
);
CREATE INDEX card_transactions_card ON card_transactions (card_id, id);
-- Every operation on a card first looks for pending ones to finish (see cards/execute.ts).
CREATE INDEX card_transactions_pending ON card_transactions (card_id) WHERE status = 'pending';
CREATE INDEX card_transactions_merchant ON card_transactions (merchant_id, created_at) WHERE merchant_id IS NOT NULL;
