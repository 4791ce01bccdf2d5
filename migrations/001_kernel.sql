-- Kernel tables: worker id leases for the id generator, stored HTTP responses for
-- Idempotency-Key replay, and the nonces of signed requests (replay protection).

CREATE TABLE worker_leases (
  worker_id    integer PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 1023),
  holder       text NOT NULL,
  lease_until  timestamptz NOT NULL,
  acquired_at  timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL
);

CREATE TABLE http_idempotency (
  principal     text NOT NULL,
  key           text NOT NULL,
  method        text NOT NULL,
  path          text NOT NULL,
  request_hash  text NOT NULL,
  state         text NOT NULL CHECK (state IN ('in_progress', 'done')),
  status_code   integer,
  response_body text,
  locked_until  timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE INDEX http_idempotency_created_at ON http_idempotency (created_at);

CREATE TABLE request_nonces (
  key_id     text NOT NULL,
  nonce      text NOT NULL,
  seen_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key_id, nonce)
);
CREATE INDEX request_nonces_seen_at ON request_nonces (seen_at);
