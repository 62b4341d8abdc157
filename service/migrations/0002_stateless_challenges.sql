-- zkmargin service schema, version 2: stateless challenges (issue 9).
--
-- POST /v1/challenges no longer writes a row: a nonce carries its expiry and an HMAC
-- tag under the secret below (see service/src/nonce.rs). From this version on a row of
-- `challenges` is written for such a nonce when an accepted verdict uses it, in the same
-- transaction as that verdict (`issued_at` is then the time of use); rows issued by
-- version 1 keep working until they expire. `challenges.nonce` stays the primary key: a
-- nonce is used at most once, across processes, replicas and restarts.

-- Secrets shared by every process on this database; written once, by whichever process
-- first needs one (INSERT ... ON CONFLICT DO NOTHING, then read back).
CREATE TABLE service_secrets (
    name       TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
