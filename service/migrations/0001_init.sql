-- zkmargin service schema, version 1. Portable SQL: the same text runs on SQLite and
-- PostgreSQL (TEXT and BIGINT only; times are Unix milliseconds; flags are 0/1).

-- Market snapshots, stored by digest once a listed publisher has signed them.
CREATE TABLE markets (
    digest          TEXT PRIMARY KEY,
    id              TEXT NOT NULL,
    as_of           TEXT NOT NULL,
    market_json     TEXT NOT NULL,
    signatures_json TEXT NOT NULL,
    received_at     BIGINT NOT NULL
);

-- Nonces handed out by POST /v1/challenges. `used_by` is set, once, to the id of the
-- accepted (valid) verdict that consumed the nonce.
CREATE TABLE challenges (
    nonce      TEXT PRIMARY KEY,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by    TEXT
);

-- Every verdict answered with 201, valid or not, keyed by the digest of the bytes posted.
CREATE TABLE verdicts (
    id             TEXT PRIMARY KEY,
    bundle_digest  TEXT NOT NULL UNIQUE,
    valid          BIGINT NOT NULL,
    reason         TEXT,
    nonce          TEXT NOT NULL,
    market_digest  TEXT NOT NULL,
    market_as_of   TEXT NOT NULL,
    level          TEXT NOT NULL,
    threshold      TEXT NOT NULL,
    statement_json TEXT NOT NULL,
    bundle_json    TEXT NOT NULL,
    received_at    BIGINT NOT NULL
);

-- A nonce is accepted at most once, whatever the application does.
CREATE UNIQUE INDEX verdicts_one_valid_per_nonce ON verdicts (nonce) WHERE valid = 1;

-- The accounts each verdict's statement covers, for GET /v1/standing.
CREATE TABLE verdict_accounts (
    verdict_id TEXT NOT NULL REFERENCES verdicts (id),
    venue      TEXT NOT NULL,
    account    TEXT NOT NULL,
    PRIMARY KEY (verdict_id, venue, account)
);

CREATE INDEX verdict_accounts_by_account ON verdict_accounts (venue, account);
