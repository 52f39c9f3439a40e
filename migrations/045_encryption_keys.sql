-- Agents' X25519 encryption (recipient) keys for VES-ENC-1 payloads, published through the key registry.
-- The recipient kid names the recipient inside an encrypted payload, so it is unique within a tenant.
-- Every change is recorded in the tenant's key audit log (003_auth.sql) in the same transaction.
CREATE TABLE encryption_keys (
  tenant_id          uuid        NOT NULL,
  recipient_kid      bigint      NOT NULL CHECK (recipient_kid BETWEEN 0 AND 4294967295),
  agent_id           uuid        NOT NULL,
  public_key         bytea       NOT NULL CHECK (octet_length(public_key) = 32),
  valid_from         timestamptz NOT NULL,
  valid_to           timestamptz CHECK (valid_to IS NULL OR valid_to >= valid_from),
  revoked_at         timestamptz,
  revocation_reason  text        CHECK (revocation_reason IS NULL OR length(revocation_reason) <= 512),
  created_at         timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, recipient_kid)
);
CREATE INDEX encryption_keys_agent ON encryption_keys (tenant_id, agent_id, recipient_kid);
