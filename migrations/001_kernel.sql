-- Kernel tables: worker id leases for the id generator, stored HTTP responses for
-- Idempotency-Key replay, and the nonces of signed requests (replay protection).

CREATE TABLE worker_leases (
  worker_id    integer PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 1023),
  holder       text NOT NULL,
  lease_until  timestamptz NOT NULL,
  -- The holder's own-clock bound on the milliseconds it may stamp ids with (it stops before it);
  -- the next holder starts after the later of this and lease_until, so clock skew between
  -- hosts cannot make two holders share a millisecond.
  issued_until_ms bigint NOT NULL DEFAULT 0,
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
  -- Which attempt holds an in-progress claim, so a slow first attempt cannot complete or drop the
  -- claim of the attempt that took over from it.
  owner         text NOT NULL,
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
