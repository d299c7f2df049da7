-- Keys that sign access tokens with EdDSA or RS256 (API.md 2.5). The private key is sealed with an
-- AEAD under a key derived from auth.key_secret; the public key is the JWK the JWKS publishes.
CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY NOT NULL,
    algorithm          TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key BLOB NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    retired_at         TIMESTAMP
);

-- One active key, whatever number of instances race to create or rotate it.
CREATE UNIQUE INDEX signing_keys_one_active_uq ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
