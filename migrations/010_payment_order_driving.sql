-- One driver at a time per combined payment across processes (a lease), and a back-off for orders
-- the expiry job could not settle yet (so they never crowd out the others).
ALTER TABLE payment_orders ADD COLUMN driver_until timestamptz;
ALTER TABLE payment_orders ADD COLUMN recheck_at timestamptz;
DROP INDEX payment_orders_open;
CREATE INDEX payment_orders_open ON payment_orders ((coalesce(recheck_at, expires_at))) WHERE status IN ('created', 'processing', 'unknown');
