-- One outbox row per event: order_id / refund_id are NULL for some events, and NULLs are distinct
-- in a plain unique constraint, so a repeated event could be queued twice.
ALTER TABLE merchant_notifications DROP CONSTRAINT merchant_notifications_event;
ALTER TABLE merchant_notifications ADD CONSTRAINT merchant_notifications_event UNIQUE NULLS NOT DISTINCT (merchant_id, event_type, order_id, refund_id);
