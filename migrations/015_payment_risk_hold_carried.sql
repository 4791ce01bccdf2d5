-- When the request of an approved review hold was carried out to its end (whatever the answer): a
-- hold taken for carrying out (`used`) without it was interrupted by a crash, and the recovery job
-- runs it again (payments/risk-gate.ts recoverReviews); one carried out is never run again.
ALTER TABLE payment_risk_holds ADD COLUMN carried_at timestamptz;
-- The recovery job's question, without scanning every hold ever written.
CREATE INDEX payment_risk_holds_uncarried ON payment_risk_holds (decided_at) WHERE status = 'used' AND kind = 'review' AND carried_at IS NULL;
