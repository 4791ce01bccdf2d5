-- Card holds for combined payments (组合支付): a card pays part of an order whose other parts go
-- through channels, so the card's part is held (ledger pending transfers) and later captured or
-- released (see docs/cards.md, "Holds"). Three new kinds of card transaction, and where a hold stands.
ALTER TABLE card_transactions DROP CONSTRAINT card_transactions_kind_check;
ALTER TABLE card_transactions ADD CONSTRAINT card_transactions_kind_check CHECK (kind IN (
  'load', 'recharge', 'consume', 'void', 'refund', 'replacement', 'redeem', 'purse_load', 'offline_debit', 'breakage',
  'hold', 'capture', 'release'));

-- On a hold: its current state; on a capture or release: the state it left the hold in.
ALTER TABLE card_transactions ADD COLUMN hold_state text CHECK (hold_state IN ('active', 'captured', 'released', 'expired'));
-- On a hold: when it times out (the ledger expires its pending transfers then).
ALTER TABLE card_transactions ADD COLUMN hold_expires_at timestamptz;

-- The worker that records timed-out holds as expired looks only at active ones.
CREATE INDEX card_transactions_active_holds ON card_transactions (hold_expires_at) WHERE kind = 'hold' AND hold_state = 'active';
-- A hold is captured at most once (the card lock already ensures it; this makes it a fact of the schema).
CREATE UNIQUE INDEX card_transactions_one_capture ON card_transactions (related_id) WHERE kind = 'capture' AND status <> 'failed';
