-- Offline electronic cash (脱机电子现金): each offline debit a terminal uploads, applied exactly once
-- per card and transaction counter (ATC), with the ledger transfer that moved its money.
CREATE TABLE card_offline_debits (
  card_id        bigint NOT NULL REFERENCES cards (id),
  atc            integer NOT NULL CHECK (atc BETWEEN 1 AND 65535),
  mac            text NOT NULL,
  amount         bigint NOT NULL CHECK (amount > 0),
  balance_after  bigint NOT NULL,
  merchant_id    bigint NOT NULL,
  terminal_id    text NOT NULL,
  occurred_at    timestamptz NOT NULL,
  uploaded_at    timestamptz NOT NULL,
  transfer_id    bigint NOT NULL,
  PRIMARY KEY (card_id, atc)
);
CREATE INDEX card_offline_debits_merchant ON card_offline_debits (merchant_id, uploaded_at);
