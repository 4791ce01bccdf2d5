-- Promotional bonus (充值送) with its own expiry: each grant records when its bonus expires, and
-- whether the expiry job has dealt with it. Expired bonus is forfeited to breakage income.
ALTER TABLE card_transactions ADD COLUMN bonus_expires_at timestamptz;
ALTER TABLE card_transactions ADD COLUMN bonus_expiry_done boolean NOT NULL DEFAULT false;
CREATE INDEX card_transactions_bonus_due ON card_transactions (bonus_expires_at)
  WHERE bonus_expires_at IS NOT NULL AND NOT bonus_expiry_done;

