-- Anchoring (ves-protocol.md §7, §16.11): where each commitment stands on the anchor chain, per (chain, contract).
-- A row exists once the commitment's transaction is signed (its hash is known before it is broadcast):
-- submitted -> included (a receipt in a canonical block) -> final (ANCHOR_CONFIRMATIONS deep). A reorg or a
-- vanished transaction deletes the row, and the commitment is anchored again. The contract, not this table,
-- is the truth: the worker reads it before every submission.

CREATE TABLE commitment_anchors (
  chain_id          bigint      NOT NULL,
  contract_address  bytea       NOT NULL CHECK (octet_length(contract_address) = 20),
  commitment_id     uuid        NOT NULL REFERENCES commitments (commitment_id),
  tenant_id         uuid        NOT NULL,
  store_id          uuid        NOT NULL,
  sequence_end      bigint      NOT NULL,
  status            text        NOT NULL CHECK (status IN ('submitted', 'included', 'final')),
  tx_hash           bytea       NOT NULL CHECK (octet_length(tx_hash) = 32),
  block_number      bigint,
  block_hash        bytea       CHECK (octet_length(block_hash) = 32),
  submitted_at      timestamptz NOT NULL,
  included_at       timestamptz,
  final_at          timestamptz,
  CHECK ((status = 'submitted') = (block_number IS NULL)),
  CHECK ((block_number IS NULL) = (block_hash IS NULL)),
  PRIMARY KEY (chain_id, contract_address, commitment_id),
  CONSTRAINT commitment_anchors_stream_end UNIQUE (chain_id, contract_address, tenant_id, store_id, sequence_end)
);

CREATE INDEX commitment_anchors_pending ON commitment_anchors (chain_id, contract_address, tx_hash)
  WHERE status <> 'final';

-- Per stream: the end of its last commitment with a row above, and its last anchoring failure (cleared when a
-- submission succeeds), so a refused stream waits its turn without blocking the others.
CREATE TABLE anchor_streams (
  chain_id          bigint      NOT NULL,
  contract_address  bytea       NOT NULL CHECK (octet_length(contract_address) = 20),
  tenant_id         uuid        NOT NULL,
  store_id          uuid        NOT NULL,
  anchored_end      bigint      NOT NULL DEFAULT 0,
  failure_reason    text,
  failure_message   text,
  failures          integer     NOT NULL DEFAULT 0,
  failed_at         timestamptz,
  retry_at          timestamptz,
  PRIMARY KEY (chain_id, contract_address, tenant_id, store_id)
);
