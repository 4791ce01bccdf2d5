-- The business ledger (账务): accounting subjects (会计科目), accounts and transfers.
-- Balances live on the account row and are changed only by the batched transfer path; the
-- CHECK constraints restate the balance limits so that even a bug in application code cannot
-- commit an overdraft.

CREATE TABLE accounting_subjects (
  code        text PRIMARY KEY CHECK (code ~ '^[0-9]{4}([0-9]{2})*$'),
  name        text NOT NULL,
  name_en     text NOT NULL,
  type        text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
  parent_code text REFERENCES accounting_subjects (code),
  active      boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A default chart for a payment institution; operators add their own sub-subjects.
INSERT INTO accounting_subjects (code, name, name_en, type, parent_code) VALUES
  ('1001', '库存现金', 'Cash on hand', 'asset', NULL),
  ('1002', '银行存款', 'Bank deposits (own funds)', 'asset', NULL),
  ('1011', '备付金', 'Customer reserve funds', 'asset', NULL),
  ('101101', '备付金-存管银行', 'Reserve funds at the custodian bank', 'asset', '1011'),
  ('101102', '备付金-合作银行', 'Reserve funds at partner banks', 'asset', '1011'),
  ('1122', '应收账款', 'Accounts receivable', 'asset', NULL),
  ('1131', '应收渠道款', 'Receivable from payment channels', 'asset', NULL),
  ('113101', '应收渠道款-微信支付', 'Receivable from WeChat Pay', 'asset', '1131'),
  ('113102', '应收渠道款-支付宝', 'Receivable from Alipay', 'asset', '1131'),
  ('113103', '应收渠道款-银联', 'Receivable from UnionPay', 'asset', '1131'),
  ('113104', '应收渠道款-银行', 'Receivable from banks', 'asset', '1131'),
  ('1221', '其他应收款', 'Other receivables', 'asset', NULL),
  ('2202', '应付账款', 'Accounts payable', 'liability', NULL),
  ('2203', '预收账款', 'Advances received', 'liability', NULL),
  ('2241', '其他应付款', 'Other payables', 'liability', NULL),
  ('2251', '客户备付金负债', 'Customer funds payable', 'liability', NULL),
  ('225101', '应付商户款', 'Payable to merchants', 'liability', '2251'),
  ('225102', '预付卡余额', 'Prepaid card balances', 'liability', '2251'),
  ('225103', '客户账户余额', 'Customer stored-value balances', 'liability', '2251'),
  ('225104', '待清算款项', 'Funds pending clearing', 'liability', '2251'),
  ('2221', '应交税费', 'Taxes payable', 'liability', NULL),
  ('4001', '实收资本', 'Paid-in capital', 'equity', NULL),
  ('4103', '本年利润', 'Current-year profit', 'equity', NULL),
  ('4104', '利润分配', 'Retained earnings', 'equity', NULL),
  ('6001', '主营业务收入', 'Operating revenue', 'income', NULL),
  ('600101', '手续费收入', 'Fee income', 'income', '6001'),
  ('6051', '其他业务收入', 'Other operating income', 'income', NULL),
  ('6301', '营业外收入', 'Non-operating income', 'income', NULL),
  ('630101', '预付卡沉淀收入', 'Prepaid card breakage income', 'income', '6301'),
  ('6401', '主营业务成本', 'Operating costs', 'expense', NULL),
  ('640101', '渠道成本', 'Channel costs', 'expense', '6401'),
  ('6602', '管理费用', 'Administrative expenses', 'expense', NULL),
  ('6711', '营业外支出', 'Non-operating expenses', 'expense', NULL);

CREATE TABLE accounts (
  id              bigint PRIMARY KEY,
  ref             text UNIQUE,
  type            text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  subject_code    text NOT NULL REFERENCES accounting_subjects (code),
  owner_id        bigint,
  name            text NOT NULL DEFAULT '',
  status          text NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'debit_frozen', 'credit_frozen', 'frozen', 'closed')),
  debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
  credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
  credit_limit    bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
  debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  metadata        jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  CONSTRAINT accounts_debit_limit CHECK (NOT debits_must_not_exceed_credits
    OR debits_pending + debits_posted <= credits_posted + credit_limit),
  CONSTRAINT accounts_credit_limit CHECK (NOT credits_must_not_exceed_debits
    OR credits_pending + credits_posted <= debits_posted + credit_limit),
  CONSTRAINT accounts_one_limit CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits))
) WITH (fillfactor = 50); -- room for HOT updates: balances change on every transfer and are not indexed
CREATE INDEX accounts_owner ON accounts (owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX accounts_subject ON accounts (subject_code);

-- Application order of transfers. CACHE 1 (the default) keeps values in allocation order across
-- sessions; transfers touching one account are allocated under that account's row lock, so `seq`
-- orders each account's history exactly as it was applied.
CREATE SEQUENCE transfer_seq;

CREATE TABLE transfers (
  id               bigint PRIMARY KEY,
  seq              bigint NOT NULL DEFAULT nextval('transfer_seq'),
  idempotency_key  text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending')),
  -- No foreign keys on the hot insert path (each would fire a per-row trigger): the batch reads
  -- and locks both accounts in the same transaction, and `paycore ledger verify` re-checks.
  debit_account_id  bigint NOT NULL,
  credit_account_id bigint NOT NULL,
  amount           bigint NOT NULL CHECK (amount >= 0),
  currency         text NOT NULL,
  code             text NOT NULL,
  pending_id       bigint,
  -- For kind = 'pending': its state and how much of it was posted.
  pending_status   text CHECK (pending_status IN ('pending', 'posted', 'voided', 'expired')),
  posted_amount    bigint,
  timeout_at       timestamptz,
  -- Corrections: a reversal names the transfer it reverses; the original keeps the running total.
  reverses_id      bigint,
  reversed_amount  bigint NOT NULL DEFAULT 0,
  chain_id         bigint,
  description      text NOT NULL DEFAULT '',
  metadata         jsonb NOT NULL DEFAULT '{}',
  debit_balance_after  bigint NOT NULL,
  credit_balance_after bigint NOT NULL,
  created_at       timestamptz NOT NULL,
  CONSTRAINT transfers_idempotency_key UNIQUE (idempotency_key),
  CONSTRAINT transfers_distinct_accounts CHECK (debit_account_id <> credit_account_id),
  CONSTRAINT transfers_pending_state CHECK ((kind = 'pending') = (pending_status IS NOT NULL)),
  CONSTRAINT transfers_reversal_bounded CHECK (reversed_amount <= amount)
);
CREATE INDEX transfers_debit_account ON transfers (debit_account_id, seq);
CREATE INDEX transfers_credit_account ON transfers (credit_account_id, seq);
-- Transfers arrive in time order, so a BRIN index serves day and range scans at a fraction of a
-- B-tree's insert cost.
CREATE INDEX transfers_created_at ON transfers USING brin (created_at) WITH (pages_per_range = 16);
CREATE INDEX transfers_pending_id ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_open_pending_timeout ON transfers (timeout_at) WHERE pending_status = 'pending' AND timeout_at IS NOT NULL;
-- Each pending transfer is resolved (posted, voided or expired) at most once.
CREATE UNIQUE INDEX transfers_one_resolution ON transfers (pending_id) WHERE kind IN ('post_pending', 'void_pending', 'expire_pending');

-- Who changed an account's status or limit, when and why.
CREATE TABLE account_changes (
  id          bigint PRIMARY KEY,
  account_id  bigint NOT NULL REFERENCES accounts (id),
  field       text NOT NULL,
  old_value   text NOT NULL,
  new_value   text NOT NULL,
  reason      text NOT NULL DEFAULT '',
  actor       text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL
);
CREATE INDEX account_changes_account ON account_changes (account_id, id);

-- Written by a small synchronous transaction after each ledger batch (see transfer-batcher.ts):
-- a commit that wrote WAL waits for the WAL flush, which makes the batch before it durable.
-- One row per database backend, so concurrent flushes never wait on each other's row lock.
CREATE TABLE ledger_wal_flush (
  backend_pid integer PRIMARY KEY,
  n           bigint NOT NULL
);
