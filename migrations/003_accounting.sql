-- The accounting side (会计), derived from the business ledger (账务): once a business day is
-- closed, its posted money is summed by accounting subject into one voucher (记账凭证) per
-- currency. Vouchers are written once and never changed; the trial balance (试算平衡表) is
-- computed from them. Business dates are computed in the application (kernel/clock), never here.

-- One row per business day that has been closed (日结), including days without postings. It makes
-- "this day was already generated" a fact of its own, so a day with no money moved is not
-- re-examined by the background worker forever, and it is the row that concurrent generators of
-- the same day race for: the first insert wins, the others see the conflict and read its result.
CREATE TABLE accounting_days (
  business_date  date PRIMARY KEY,
  -- The zone the day's UTC range was computed in. Every day must use the same zone; a change of
  -- zone would make two neighbouring days overlap or leave a gap between them.
  time_zone      text NOT NULL,
  voucher_count  integer NOT NULL CHECK (voucher_count >= 0),
  transfer_count bigint NOT NULL CHECK (transfer_count >= 0),
  closed_at      timestamptz NOT NULL
);

CREATE TABLE vouchers (
  id             bigint PRIMARY KEY,
  -- Readable number shown to people: 'V' + yyyymmdd + currency, e.g. V20260310CNY.
  voucher_no     text NOT NULL UNIQUE,
  business_date  date NOT NULL REFERENCES accounting_days (business_date),
  currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  time_zone      text NOT NULL,
  status         text NOT NULL DEFAULT 'posted' CHECK (status IN ('posted')),
  total_debit    bigint NOT NULL CHECK (total_debit > 0),
  total_credit   bigint NOT NULL,
  transfer_count bigint NOT NULL CHECK (transfer_count > 0),
  created_at     timestamptz NOT NULL,
  -- A voucher that does not balance must never be committed, whatever the application does.
  CONSTRAINT vouchers_balanced CHECK (total_debit = total_credit),
  -- One voucher per currency and day; this is also what makes generation idempotent.
  CONSTRAINT vouchers_one_per_day_and_currency UNIQUE (business_date, currency)
);

-- Each line is one-sided, as on a paper voucher: either a debit (借) or a credit (贷) amount for
-- one subject. A subject that moved both ways on a day has two lines, so gross movements are kept.
CREATE TABLE voucher_lines (
  voucher_id     bigint NOT NULL REFERENCES vouchers (id),
  line_no        integer NOT NULL CHECK (line_no >= 1),
  subject_code   text NOT NULL REFERENCES accounting_subjects (code),
  debit_amount   bigint NOT NULL CHECK (debit_amount >= 0),
  credit_amount  bigint NOT NULL CHECK (credit_amount >= 0),
  PRIMARY KEY (voucher_id, line_no),
  CONSTRAINT voucher_lines_one_sided CHECK ((debit_amount = 0) <> (credit_amount = 0))
);
-- The trial balance sums lines by subject; this index lets it and subject reports avoid a scan of
-- every line when only a few subjects are asked for, and serves the foreign key to the chart.
CREATE INDEX voucher_lines_subject ON voucher_lines (subject_code);
