-- Fee bumping (ves-protocol.md §7): every signed version of an anchoring transaction. A transaction still pending
-- after ANCHOR_REPLACE_AFTER_MS is replaced (same sender, nonce, calldata and gas limit, higher fees); any one of
-- the versions may be the one mined, so each is recorded here, before it is broadcast, with what is needed to sign
-- the next one. `first_hash` names the group: the hash the first version had. commitment_anchors.tx_hash points
-- at the latest version while none is mined, then at the version that was mined.
-- Transactions sent before this migration have no row here: they are followed as before, never replaced.

CREATE TABLE anchor_tx_attempts (
  chain_id                  bigint      NOT NULL,
  contract_address          bytea       NOT NULL CHECK (octet_length(contract_address) = 20),
  tx_hash                   bytea       NOT NULL CHECK (octet_length(tx_hash) = 32),
  first_hash                bytea       NOT NULL CHECK (octet_length(first_hash) = 32),
  sender                    bytea       NOT NULL CHECK (octet_length(sender) = 20),
  nonce                     bigint      NOT NULL CHECK (nonce >= 0),
  gas_limit                 bigint      NOT NULL CHECK (gas_limit > 0),
  max_fee_per_gas           numeric(78) NOT NULL CHECK (max_fee_per_gas >= 0),
  max_priority_fee_per_gas  numeric(78) NOT NULL CHECK (max_priority_fee_per_gas >= 0),
  calldata                  bytea       NOT NULL,
  sent_at                   timestamptz NOT NULL,
  PRIMARY KEY (chain_id, contract_address, tx_hash)
);

CREATE INDEX anchor_tx_attempts_group ON anchor_tx_attempts (chain_id, contract_address, first_hash);
