-- Every new payment attempt asks whether a risk review of its order is open or was rejected
-- (payments/review-block.ts): a rejected review stops the order's attempts for good. This partial
-- index answers that by order without scanning the holds of other orders.
CREATE INDEX payment_risk_holds_review_block ON payment_risk_holds (order_id) WHERE kind = 'review' AND status IN ('open', 'rejected');
