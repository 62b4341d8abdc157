-- zkmargin service schema, version 5: the credit desk's paginated reads (issue 23).
-- Additive only: one column and indexes. Portable SQL (SQLite and PostgreSQL).
--
-- Every list is read newest first by keyset pagination, (received_at, key) < cursor,
-- walking one of these indexes and stopping after a page: no read of the whole table.

-- GET /v1/proofs, newest first; and the same restricted to valid or to invalid verdicts.
CREATE INDEX verdicts_newest ON verdicts (received_at, id);
CREATE INDEX verdicts_newest_by_outcome ON verdicts (valid, received_at, id);

-- GET /v1/proofs?venue=V&account=A: an account's verdicts newest first. The verdict's
-- receipt time is copied beside each of its accounts (written with the verdict; rows
-- stored before this version get it here).
ALTER TABLE verdict_accounts ADD COLUMN received_at BIGINT;
UPDATE verdict_accounts
   SET received_at = (SELECT v.received_at FROM verdicts v WHERE v.id = verdict_accounts.verdict_id);
CREATE INDEX verdict_accounts_newest ON verdict_accounts (venue, account, received_at, verdict_id);

-- GET /v1/markets, newest first.
CREATE INDEX markets_newest ON markets (received_at, digest);
