-- Parties (三户): customers (客户), the users who log in for them (用户) and their business
-- accounts (账户), plus merchant profiles, merchant API credentials and operator tokens.
-- Business accounts are backed by ledger accounts, referred to by id only: modules meet through
-- their index.ts, never through foreign keys or joins into another module's tables.
-- Personal data (ID numbers, phone numbers) is stored sealed (AES-256-GCM under the master key)
-- next to a masked form for display and, for ID numbers, a keyed hash for exact lookup.

CREATE TABLE customers (
  id               bigint PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('individual', 'individual_business', 'organization')),
  legal_name       text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 200),
  id_type          text NOT NULL CHECK (id_type IN ('resident_id', 'passport', 'uscc')),
  id_number_sealed text NOT NULL,
  id_number_hash   text NOT NULL CHECK (id_number_hash ~ '^[0-9a-f]{64}$'),
  id_number_masked text NOT NULL,
  phone_sealed     text,
  phone_masked     text,
  real_name_level  smallint NOT NULL DEFAULT 0 CHECK (real_name_level BETWEEN 0 AND 3),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  CONSTRAINT customers_phone_pair CHECK ((phone_sealed IS NULL) = (phone_masked IS NULL))
);
-- One open customer per identity document; a closed customer's document may be onboarded again.
CREATE UNIQUE INDEX customers_open_document ON customers (id_type, id_number_hash) WHERE status <> 'closed';
CREATE INDEX customers_status ON customers (status, id);

-- "related_customer_id is the <kind> of customer_id": the parent organization of a subsidiary,
-- a guarantor of a customer, a beneficial owner (受益所有人) of an organization with its share.
CREATE TABLE customer_relationships (
  id                  bigint PRIMARY KEY,
  customer_id         bigint NOT NULL REFERENCES customers (id),
  related_customer_id bigint NOT NULL REFERENCES customers (id),
  kind                text NOT NULL CHECK (kind IN ('parent_organization', 'guarantor', 'beneficial_owner')),
  share_bp            integer CHECK (share_bp BETWEEN 1 AND 10000),
  created_at          timestamptz NOT NULL,
  CONSTRAINT customer_relationships_not_self CHECK (customer_id <> related_customer_id),
  CONSTRAINT customer_relationships_share_for_owners CHECK (share_bp IS NULL OR kind = 'beneficial_owner'),
  CONSTRAINT customer_relationships_unique UNIQUE (customer_id, related_customer_id, kind)
);
-- An organization has at most one parent, so the parent graph is a forest once cycles are refused.
CREATE UNIQUE INDEX customer_relationships_one_parent ON customer_relationships (customer_id) WHERE kind = 'parent_organization';
CREATE INDEX customer_relationships_related ON customer_relationships (related_customer_id, id);

-- Login identities. Passwords, TOTP and the like will live in their own table keyed by user id,
-- so adding them changes no column here.
CREATE TABLE customer_users (
  id           bigint PRIMARY KEY,
  customer_id  bigint NOT NULL REFERENCES customers (id),
  login_name   text NOT NULL CHECK (login_name = lower(login_name) AND length(login_name) BETWEEN 3 AND 64),
  display_name text NOT NULL DEFAULT '',
  roles        text[] NOT NULL CHECK (cardinality(roles) >= 1 AND roles <@ ARRAY['owner', 'admin', 'finance', 'operator', 'viewer']),
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  CONSTRAINT customer_users_login_name UNIQUE (login_name)
);
CREATE INDEX customer_users_customer ON customer_users (customer_id, id);

CREATE TABLE business_accounts (
  id                bigint PRIMARY KEY,
  customer_id       bigint NOT NULL REFERENCES customers (id),
  kind              text NOT NULL CHECK (kind IN ('balance', 'merchant_settlement', 'deposit')),
  currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- NULL only between recording the intent and creating the ledger account (see accounts.ts).
  ledger_account_id bigint UNIQUE,
  external_ref      text CHECK (length(external_ref) BETWEEN 1 AND 64),
  status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL,
  CONSTRAINT business_accounts_external_ref UNIQUE (customer_id, external_ref)
);
CREATE INDEX business_accounts_customer ON business_accounts (customer_id, id);
-- A merchant has one open settlement account per currency; settlement must know where to pay from.
CREATE UNIQUE INDEX business_accounts_one_settlement ON business_accounts (customer_id, currency)
  WHERE kind = 'merchant_settlement' AND status <> 'closed';

CREATE TABLE merchants (
  id                    bigint PRIMARY KEY,
  customer_id           bigint NOT NULL UNIQUE REFERENCES customers (id),
  merchant_no           text NOT NULL UNIQUE,
  display_name          text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
  notify_domains        text[] NOT NULL DEFAULT '{}',
  mcc                   text NOT NULL CHECK (mcc ~ '^[0-9]{4}$'),
  fee_plan_ref          text,
  settlement_cycle      text NOT NULL CHECK (settlement_cycle ~ '^(T\+([0-9]|[12][0-9]|30)|D\+1)$'),
  settlement_account_id bigint NOT NULL REFERENCES business_accounts (id),
  status                text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'suspended', 'closed')),
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);
CREATE INDEX merchants_status ON merchants (status, id);

-- API keys of merchants. An HMAC secret is stored only sealed (context "credential:<key_id>");
-- for RSA only the merchant's public key is kept.
CREATE TABLE merchant_credentials (
  id              bigint PRIMARY KEY,
  key_id          text NOT NULL UNIQUE CHECK (key_id ~ '^mk_[0-9a-f]{24}$'),
  merchant_id     bigint NOT NULL REFERENCES merchants (id),
  alg             text NOT NULL CHECK (alg IN ('HMAC-SHA256', 'RSA-SHA256')),
  secret_sealed   text,
  public_key_pem  text,
  public_key_bits integer,
  name            text NOT NULL DEFAULT '',
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at      timestamptz NOT NULL,
  disabled_at     timestamptz,
  CONSTRAINT merchant_credentials_material CHECK (
    (alg = 'HMAC-SHA256' AND secret_sealed IS NOT NULL AND public_key_pem IS NULL AND public_key_bits IS NULL) OR
    (alg = 'RSA-SHA256' AND secret_sealed IS NULL AND public_key_pem IS NOT NULL AND public_key_bits >= 2048)),
  CONSTRAINT merchant_credentials_disabled_at CHECK ((status = 'disabled') = (disabled_at IS NOT NULL))
);
CREATE INDEX merchant_credentials_merchant ON merchant_credentials (merchant_id, id);

-- Bearer tokens of platform staff; only the SHA-256 of a token is stored.
CREATE TABLE operator_tokens (
  id           bigint PRIMARY KEY,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  created_by   text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);

-- Who changed the status (or real-name level) of which party record, when and why.
CREATE TABLE party_changes (
  id         bigint PRIMARY KEY,
  entity     text NOT NULL CHECK (entity IN ('customer', 'user', 'business_account', 'merchant', 'credential', 'operator_token')),
  entity_id  text NOT NULL,
  field      text NOT NULL,
  old_value  text NOT NULL,
  new_value  text NOT NULL,
  reason     text NOT NULL DEFAULT '',
  actor      text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL
);
CREATE INDEX party_changes_entity ON party_changes (entity, entity_id, id);
