-- zkmargin service schema, version 3: hardening (issue 22). Additive only.
--
-- Verdicts are keyed by the bundle's canonical form (whitespace, key order, hex case and
-- attestation order do not matter) and by what the verdict depended on: the policy in
-- force and the market's signature set. A bundle posted again is answered with its latest
-- verdict while neither has changed, and verified again once one has (a different outcome
-- is a new row). `bundle_digest` stays the unique key: from this version on it is the
-- SHA-256 of the canonical digest and the two hashes below; rows of versions 1 and 2
-- keep the digest of the bytes posted and have these columns NULL.
ALTER TABLE verdicts ADD COLUMN canonical_digest TEXT;
ALTER TABLE verdicts ADD COLUMN policy_hash TEXT;
ALTER TABLE verdicts ADD COLUMN signatures_hash TEXT;

CREATE INDEX verdicts_by_canonical_digest ON verdicts (canonical_digest, received_at);
