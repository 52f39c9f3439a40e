-- Core schema: agent keys, streams and the event log with receipts (ves-protocol.md §3.1, §4, §10, §16).

CREATE TABLE agent_keys (
  tenant_id          uuid        NOT NULL,
  agent_id           uuid        NOT NULL,
  key_id             bigint      NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
  public_key         bytea       NOT NULL CHECK (octet_length(public_key) = 32),
  algorithm          text        NOT NULL DEFAULT 'ed25519' CHECK (algorithm = 'ed25519'),
  valid_from         timestamptz NOT NULL,
  valid_to           timestamptz,
  revoked_at         timestamptz,
  revocation_reason  text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, agent_id, key_id),
  CHECK (valid_to IS NULL OR valid_from <= valid_to)
);

-- One row per (tenant, store) stream; the row lock serialises sequencing of the stream.
CREATE TABLE streams (
  tenant_id   uuid        NOT NULL,
  store_id    uuid        NOT NULL,
  head        bigint      NOT NULL DEFAULT 0 CHECK (head >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, store_id)
);

CREATE TABLE events (
  tenant_id               uuid        NOT NULL,
  store_id                uuid        NOT NULL,
  sequence_number         bigint      NOT NULL CHECK (sequence_number >= 1),
  event_id                uuid        NOT NULL,
  ves_version             integer     NOT NULL,
  source_agent_id         uuid        NOT NULL,
  agent_key_id            bigint      NOT NULL,
  entity_type             text        NOT NULL,
  entity_id               text        NOT NULL,
  event_type              text        NOT NULL,
  -- The exact RFC 3339 string the agent signed (§16.2).
  created_at              text        NOT NULL,
  -- Signed VES value: 0 plaintext, 1 encrypted.
  payload_kind            smallint    NOT NULL CHECK (payload_kind IN (0, 1)),
  -- Plaintext JSON exactly as received.
  payload                 bytea,
  -- VES-ENC-1 JSON form (§5), base64url fields.
  payload_encrypted       jsonb,
  payload_plain_hash      bytea       NOT NULL CHECK (octet_length(payload_plain_hash) = 32),
  payload_cipher_hash     bytea       NOT NULL CHECK (octet_length(payload_cipher_hash) = 32),
  event_signing_hash      bytea       NOT NULL CHECK (octet_length(event_signing_hash) = 32),
  agent_signature         bytea       NOT NULL CHECK (octet_length(agent_signature) = 64),
  agent_signature_scheme  smallint    NOT NULL,
  command_id              uuid,
  base_version            bigint,
  -- The entity's version after this event: 1 for its first event.
  entity_version          bigint      NOT NULL CHECK (entity_version >= 1),
  sequenced_at            timestamptz NOT NULL,
  sequencer_id            uuid        NOT NULL,
  sequencer_key_id        text        NOT NULL,
  receipt_hash            bytea       NOT NULL CHECK (octet_length(receipt_hash) = 32),
  sequencer_signature     bytea       NOT NULL CHECK (octet_length(sequencer_signature) = 64),
  PRIMARY KEY (tenant_id, store_id, sequence_number),
  CHECK ((payload_kind = 0 AND payload IS NOT NULL AND payload_encrypted IS NULL)
      OR (payload_kind = 1 AND payload IS NULL AND payload_encrypted IS NOT NULL))
);

-- event_id is unique across the whole log (§0.8).
CREATE UNIQUE INDEX events_event_id ON events (event_id);
-- command_id is unique per stream (§4).
CREATE UNIQUE INDEX events_command_id ON events (tenant_id, store_id, command_id) WHERE command_id IS NOT NULL;
-- Entity history and the entity's current version.
CREATE INDEX events_entity ON events (tenant_id, store_id, entity_type, entity_id, sequence_number);

-- Each entity's current version (its number of events), read under the stream lock for base_version checks.
CREATE TABLE entity_versions (
  tenant_id    uuid   NOT NULL,
  store_id     uuid   NOT NULL,
  entity_type  text   NOT NULL,
  entity_id    text   NOT NULL,
  version      bigint NOT NULL CHECK (version >= 1),
  PRIMARY KEY (tenant_id, store_id, entity_type, entity_id)
);

-- Every key that has signed receipts, so old receipts stay verifiable after a key rotation.
CREATE TABLE sequencer_keys (
  key_id         text        PRIMARY KEY,
  public_key     bytea       NOT NULL CHECK (octet_length(public_key) = 32),
  sequencer_id   uuid        NOT NULL,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now()
);
