-- Commitments: signed, chained Merkle commitments over each stream's events (ves-protocol.md §2.5, §2.6, §16.10).
--
-- The chain is enforced here, independently of the worker's locking: a stream's commitments start at sequence 1,
-- each starts at the previous end + 1 and carries the previous new_state_root, none ends past the stream's head.
-- The unique start and end make a second commitment for a range (or an overlap) impossible; the trigger makes a
-- gap or a wrong prev_state_root impossible. Together: one chain from 1, each range once.

CREATE TABLE commitments (
  commitment_id      uuid        PRIMARY KEY,
  tenant_id          uuid        NOT NULL,
  store_id           uuid        NOT NULL,
  sequence_start     bigint      NOT NULL CHECK (sequence_start >= 1),
  sequence_end       bigint      NOT NULL,
  leaf_count         integer     NOT NULL,
  padded_leaf_count  integer     NOT NULL,
  tree_depth         integer     NOT NULL CHECK (tree_depth BETWEEN 0 AND 30),
  merkle_root        bytea       NOT NULL CHECK (octet_length(merkle_root) = 32),
  prev_state_root    bytea       NOT NULL CHECK (octet_length(prev_state_root) = 32),
  new_state_root     bytea       NOT NULL CHECK (octet_length(new_state_root) = 32),
  sequencer_id       uuid        NOT NULL,
  sequencer_key_id   text        NOT NULL,
  -- H("VES_CHECKPOINT_V1" ‖ …) and the sequencer's Ed25519 signature over it (this project's extension).
  checkpoint_hash    bytea       NOT NULL CHECK (octet_length(checkpoint_hash) = 32),
  signature          bytea       NOT NULL CHECK (octet_length(signature) = 64),
  committed_at       timestamptz NOT NULL,
  -- Every node of the padded tree, level by level from the leaves to the root, 32 bytes each
  -- (src/infra/pg/treeNodes.ts): proofs are sliced out of it with substring().
  tree_nodes         bytea       NOT NULL,
  CHECK (sequence_end >= sequence_start),
  CHECK (leaf_count = sequence_end - sequence_start + 1),
  CHECK (padded_leaf_count = 1 << tree_depth AND padded_leaf_count >= leaf_count AND padded_leaf_count < 2 * leaf_count),
  CHECK (octet_length(tree_nodes) = 32 * (2 * padded_leaf_count - 1)),
  CONSTRAINT commitments_stream_start UNIQUE (tenant_id, store_id, sequence_start),
  CONSTRAINT commitments_stream_end UNIQUE (tenant_id, store_id, sequence_end)
);

-- Hashes do not compress; stored uncompressed, a substring() reads only the TOAST chunks it needs.
ALTER TABLE commitments ALTER COLUMN tree_nodes SET STORAGE EXTERNAL;

CREATE FUNCTION commitments_check_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  expected_prev bytea;
  stream_head   bigint;
BEGIN
  IF NEW.sequence_start = 1 THEN
    expected_prev := decode(repeat('00', 32), 'hex');
  ELSE
    SELECT c.new_state_root INTO expected_prev FROM commitments c
    WHERE c.tenant_id = NEW.tenant_id AND c.store_id = NEW.store_id AND c.sequence_end = NEW.sequence_start - 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'commitment of stream %/% starts at % but no commitment ends at %',
        NEW.tenant_id, NEW.store_id, NEW.sequence_start, NEW.sequence_start - 1
        USING ERRCODE = 'check_violation', CONSTRAINT = 'commitments_chain';
    END IF;
  END IF;
  IF NEW.prev_state_root <> expected_prev THEN
    RAISE EXCEPTION 'commitment of stream %/% at % does not chain the previous state root',
      NEW.tenant_id, NEW.store_id, NEW.sequence_start
      USING ERRCODE = 'check_violation', CONSTRAINT = 'commitments_chain';
  END IF;
  SELECT s.head INTO stream_head FROM streams s WHERE s.tenant_id = NEW.tenant_id AND s.store_id = NEW.store_id;
  IF stream_head IS NULL OR NEW.sequence_end > stream_head THEN
    RAISE EXCEPTION 'commitment of stream %/% ends at % past the head %',
      NEW.tenant_id, NEW.store_id, NEW.sequence_end, coalesce(stream_head, 0)
      USING ERRCODE = 'check_violation', CONSTRAINT = 'commitments_chain';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER commitments_chain BEFORE INSERT ON commitments
  FOR EACH ROW EXECUTE FUNCTION commitments_check_chain();

-- What a checkpoint signed never changes, and a link of the chain is never removed.
CREATE FUNCTION commitments_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'commitments are immutable: % of commitment % refused', TG_OP, OLD.commitment_id
    USING ERRCODE = 'check_violation', CONSTRAINT = 'commitments_immutable';
END
$$;

CREATE TRIGGER commitments_immutable
  BEFORE UPDATE OF commitment_id, tenant_id, store_id, sequence_start, sequence_end, leaf_count, padded_leaf_count,
    tree_depth, merkle_root, prev_state_root, new_state_root, sequencer_id, sequencer_key_id, checkpoint_hash,
    signature, committed_at, tree_nodes
    OR DELETE ON commitments
  FOR EACH ROW EXECUTE FUNCTION commitments_immutable();
