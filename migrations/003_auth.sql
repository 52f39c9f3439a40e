-- Authentication and the key lifecycle: API keys (stored as hashes) and the per-tenant, hash-chained,
-- append-only audit log of key changes (ves-protocol.md §3.2, §16.8, §16.9).

CREATE TABLE api_keys (
  -- "ves_" and 12 hex characters: the public part of the key, shown in listings.
  prefix       text        PRIMARY KEY CHECK (prefix ~ '^ves_[0-9a-f]{12}$'),
  tenant_id    uuid        NOT NULL,
  -- SHA-256 of the whole key; the key itself is never stored.
  key_hash     bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
  name         text        NOT NULL DEFAULT '' CHECK (length(name) <= 128),
  permissions  text[]      NOT NULL CHECK (cardinality(permissions) >= 1
                                           AND permissions <@ ARRAY['read', 'write', 'admin']),
  -- Empty: every store of the tenant.
  store_ids    uuid[]      NOT NULL DEFAULT '{}',
  -- NULL: not bound to an agent.
  agent_id     uuid,
  -- Requests per second (also the burst); NULL: no limit.
  rate_limit   integer     CHECK (rate_limit IS NULL OR rate_limit >= 1),
  created_at   timestamptz NOT NULL,
  created_by   text        NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

-- The head of each tenant's audit chain; its row lock serialises appends to the chain.
CREATE TABLE key_audit_heads (
  tenant_id  uuid   PRIMARY KEY,
  seq        bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
  hash       bytea  NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
                    CHECK (octet_length(hash) = 32)
);

-- hash = SHA-256(prev_hash || convert_to(content, 'UTF8')); content is the RFC 8785 JSON of the entry.
CREATE TABLE key_audit_log (
  tenant_id  uuid        NOT NULL,
  seq        bigint      NOT NULL CHECK (seq >= 1),
  at         timestamptz NOT NULL,
  actor      text        NOT NULL,
  action     text        NOT NULL,
  subject    text        NOT NULL,
  content    text        NOT NULL,
  prev_hash  bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash       bytea       NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (tenant_id, seq)
);

CREATE FUNCTION key_audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'key_audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER key_audit_log_append_only
  BEFORE UPDATE OR DELETE ON key_audit_log
  FOR EACH ROW EXECUTE FUNCTION key_audit_log_refuse_change();

CREATE TRIGGER key_audit_log_no_truncate
  BEFORE TRUNCATE ON key_audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION key_audit_log_refuse_change();
