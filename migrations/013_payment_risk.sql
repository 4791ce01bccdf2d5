-- Payments held by risk control: a `review` waits for its case, a `challenge` for the payer's code.
CREATE TABLE payment_risk_holds (
  id          bigint PRIMARY KEY,
  order_id    bigint NOT NULL REFERENCES payment_orders (id),
  kind        text NOT NULL CHECK (kind IN ('review', 'challenge')),
  case_id     bigint,
  -- The pay request to carry out once cleared (never PINs or bank card details).
  request     jsonb NOT NULL,
  code_hash   text,
  attempts    integer NOT NULL DEFAULT 0,
  expires_at  timestamptz NOT NULL,
  status      text NOT NULL CHECK (status IN ('open', 'cleared', 'used', 'rejected', 'failed')),
  created_at  timestamptz NOT NULL,
  decided_at  timestamptz
);
-- One hold at a time per order.
CREATE UNIQUE INDEX payment_risk_holds_one ON payment_risk_holds (order_id) WHERE status IN ('open', 'cleared');
CREATE INDEX payment_risk_holds_case ON payment_risk_holds (case_id);
