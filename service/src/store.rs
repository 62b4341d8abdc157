//! Durable storage of markets, challenges and verdicts: one schema, versioned migrations,
//! SQLite (a file, embedded) or PostgreSQL (a `postgres://` URL, shared by replicas).
//!
//! Built on sqlx's `Any` driver with runtime queries (there is no database at build time,
//! so no compile-time checked macros) and portable SQL: `$N` placeholders, TEXT and BIGINT
//! columns, `ON CONFLICT DO NOTHING`. Every rule that must hold across processes is
//! enforced by the database, never in memory:
//!
//! - a verdict is stored once per bundle and state it depended on
//!   (`verdicts.bundle_digest` UNIQUE: the digest of the bundle's canonical form and of the
//!   policy and market signatures it was verified under; schema 1 and 2 rows hold the
//!   digest of the bytes posted);
//! - a nonce is consumed by at most one valid verdict: in the same transaction as the
//!   verdict's `INSERT`, an `INSERT INTO challenges ... ON CONFLICT (nonce) DO UPDATE SET
//!   used_by = ... WHERE used_by IS NULL AND expires_at > now` (a stateless nonce gets its
//!   row now; a row issued by schema 1 is marked), backed by a partial unique index on
//!   `verdicts (nonce) WHERE valid = 1`.
//!
//! Every call is bounded by [`STORAGE_TIMEOUT`]: a database that is down, frozen or
//! locked by another process costs a request about two seconds and a 503, never the
//! pool's own (longer) wait.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Connection, Executor, Row};

/// How long any one storage call may take before it fails with [`StoreError::Timeout`]
/// (the service answers 503 with `Retry-After`). SQLite's own wait for a lock held by
/// another writer is as long.
pub const STORAGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one storage call within [`STORAGE_TIMEOUT`].
async fn bounded<T>(call: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(STORAGE_TIMEOUT, call).await.map_err(|_| StoreError::Timeout)?
}

/// Storage failures (answered 503 by the service, never a verdict, and never with their
/// text: that is for the operator's log).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database did not answer within [`STORAGE_TIMEOUT`].
    #[error("the database did not answer within {} s", STORAGE_TIMEOUT.as_secs())]
    Timeout,
    /// `--db` names a file that is not an SQLite database.
    #[error("{0}: not a database (an SQLite file starts with \"SQLite format 3\"; give a new path or an SQLite file)")]
    NotADatabase(String),
    /// The database could not be reached or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// The versioned migrations, embedded in the binary. Append new files; never edit one
/// that has shipped (its checksum is recorded in `_sqlx_migrations`).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "stateless challenges", include_str!("../migrations/0002_stateless_challenges.sql")),
    (3, "hardening", include_str!("../migrations/0003_hardening.sql")),
    (4, "desk", include_str!("../migrations/0004_desk.sql")),
];

mod list;
pub use list::{account_page_sql, market_page_sql, verdict_page_sql, Bind, ListedMarket, ListedVerdict, Newest, VerdictDetail, VerdictFilter};

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, Cow::Borrowed(*sql), false)
                })
                .collect())
        })
    }
}

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The database URL for a `--db` value: `postgres://` / `postgresql://` and `sqlite:`
/// URLs are used as given; anything else is the path of an SQLite file (created when
/// missing).
pub fn database_url(db: &str) -> (Backend, String) {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        (Backend::Postgres, db.to_string())
    } else if db.starts_with("sqlite:") {
        (Backend::Sqlite, db.to_string())
    } else {
        let path = std::path::Path::new(db);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
        };
        (Backend::Sqlite, format!("sqlite://{}?mode=rwc", abs.display()))
    }
}

/// A market snapshot as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMarket {
    /// Market digest (hex).
    pub digest: String,
    /// Market id.
    pub id: String,
    /// Market `as_of`.
    pub as_of: String,
    /// The market JSON as posted (re-parsed before use).
    pub market_json: String,
    /// The publisher signatures, a JSON array.
    pub signatures_json: String,
}

/// A nonce handed out by the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The nonce (lowercase hex).
    pub nonce: String,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// The accepted verdict that used it, if any.
    pub used_by: Option<String>,
}

/// A stored verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Verdict id.
    pub id: String,
    /// SHA-256 (hex) of the bytes posted.
    pub bundle_digest: String,
    /// Whether the bundle was valid under the policy.
    pub valid: bool,
    /// Why not, when invalid.
    pub reason: Option<String>,
    /// The statement's nonce.
    pub nonce: String,
    /// Market digest.
    pub market_digest: String,
    /// Market `as_of`.
    pub market_as_of: String,
    /// Statement level.
    pub level: String,
    /// Statement threshold (decimal string).
    pub threshold: String,
    /// The statement, JSON (for an invalid verdict, at most a bounded summary: see
    /// [`crate::http::MAX_INVALID_STATEMENT_BYTES`]).
    pub statement_json: String,
    /// When the verdict was stored (Unix ms).
    pub received_at: i64,
    /// SHA-256 (hex) of the bundle's canonical form (`None`: stored by schema 1 or 2,
    /// keyed by the bytes posted).
    pub canonical_digest: Option<String>,
    /// What the verdict depended on besides the bundle: the policy's hash and the hash of
    /// the market's signature set when it was verified (`None` for rows of schema 1 and 2).
    pub depends_on: Option<Dependencies>,
}

/// The state a verdict depended on besides the bundle and the market's contents: if
/// either has changed, the bundle is verified again when it is posted again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependencies {
    /// SHA-256 (hex) of the policy in force.
    pub policy_hash: String,
    /// SHA-256 (hex) of the market's signature set.
    pub signatures_hash: String,
}

/// A verdict to store, with the accounts its statement covers.
#[derive(Clone, Debug)]
pub struct NewVerdict {
    /// The verdict (its `received_at` is the time used for the nonce's expiry).
    pub verdict: Verdict,
    /// When the statement's nonce expires (Unix ms), as the service checked it.
    pub nonce_expires_at: i64,
    /// The bundle as posted.
    pub bundle_json: String,
    /// (venue, account) of each statement account.
    pub accounts: Vec<(String, String)>,
}

/// What [`Store::record`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now (and, when valid, the nonce consumed).
    Stored,
    /// The same bytes were stored before: that verdict (boxed: a verdict is far larger
    /// than the other outcomes).
    Existing(Box<Verdict>),
    /// Valid, but the nonce was already used by an accepted proof: nothing stored.
    NonceUsed,
    /// Valid, but the nonce expired (or was never issued): nothing stored.
    NonceExpired,
}

const VERDICT_COLUMNS: &str = "id, bundle_digest, valid, reason, nonce, market_digest, market_as_of, level, threshold, \
     statement_json, received_at, canonical_digest, policy_hash, signatures_hash";

fn verdict_of(row: &AnyRow) -> Result<Verdict> {
    let policy_hash: Option<String> = row.try_get("policy_hash")?;
    let signatures_hash: Option<String> = row.try_get("signatures_hash")?;
    Ok(Verdict {
        canonical_digest: row.try_get("canonical_digest")?,
        depends_on: policy_hash.zip(signatures_hash).map(|(policy_hash, signatures_hash)| Dependencies { policy_hash, signatures_hash }),
        id: row.try_get("id")?,
        bundle_digest: row.try_get("bundle_digest")?,
        valid: row.try_get::<i64, _>("valid")? != 0,
        reason: row.try_get("reason")?,
        nonce: row.try_get("nonce")?,
        market_digest: row.try_get("market_digest")?,
        market_as_of: row.try_get("market_as_of")?,
        level: row.try_get("level")?,
        threshold: row.try_get("threshold")?,
        statement_json: row.try_get("statement_json")?,
        received_at: row.try_get("received_at")?,
    })
}

/// The service's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuses, at once, an SQLite path that names an existing file that is not an SQLite
/// database (a policy, a token, a JSON file): opening it would fail on every connection
/// and the pool would retry until it timed out.
fn check_sqlite_file(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(()) };
    let mut head = [0u8; 16];
    match std::io::Read::read(&mut file, &mut head) {
        Ok(0) => Ok(()), // an empty file becomes a database
        Ok(n) if n == head.len() && &head == SQLITE_MAGIC => Ok(()),
        _ => Err(StoreError::NotADatabase(path.to_string())),
    }
}

impl Store {
    /// Connects to `db` (see [`database_url`]) and applies the migrations. A path to an
    /// existing file that is not an SQLite database is refused at once
    /// ([`StoreError::NotADatabase`]).
    pub async fn open(db: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = database_url(db);
        if backend == Backend::Sqlite {
            check_sqlite_file(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)?;
        let busy = format!("PRAGMA busy_timeout = {}", STORAGE_TIMEOUT.as_millis());
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(STORAGE_TIMEOUT)
            .after_connect(move |conn, _| {
                let busy = busy.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durable commits (fsync on commit), readers beside one writer,
                        // writers wait for each other (as long as a storage call may take)
                        // instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute(busy.as_str()).await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let migrator = Migrator::new(Embedded).await?;
        migrator.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the database can take a write now: a round trip on PostgreSQL; on SQLite
    /// the write lock itself, taken and given back (`BEGIN IMMEDIATE`, `ROLLBACK`), so
    /// that a database another process holds locked is reported, not just a file that
    /// opens.
    pub async fn health(&self) -> Result<()> {
        bounded(async {
            match self.backend {
                Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?.rollback().await?,
                Backend::Postgres => self.pool.acquire().await?.ping().await?,
            }
            Ok(())
        })
        .await
    }

    /// Stores a market; `Ok(true)` if it is new. An existing market keeps its row and
    /// gains the signatures it did not have (`merge` decides the union).
    pub async fn put_market(&self, market: &StoredMarket, now: i64, merge: impl Fn(&str) -> Option<String>) -> Result<bool> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO markets (digest, id, as_of, market_json, signatures_json, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(&market.digest)
            .bind(&market.id)
            .bind(&market.as_of)
            .bind(&market.market_json)
            .bind(&market.signatures_json)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !inserted {
                let row = sqlx::query("SELECT signatures_json FROM markets WHERE digest = $1")
                    .bind(&market.digest)
                    .fetch_one(&mut *tx)
                    .await?;
                let old: String = row.try_get("signatures_json")?;
                if let Some(new) = merge(&old) {
                    sqlx::query("UPDATE markets SET signatures_json = $1 WHERE digest = $2")
                        .bind(new)
                        .bind(&market.digest)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(inserted)
        })
        .await
    }

    /// The market with this digest.
    pub async fn market(&self, digest: &str) -> Result<Option<StoredMarket>> {
        bounded(async {
            let row = sqlx::query("SELECT digest, id, as_of, market_json, signatures_json FROM markets WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?;
            row.map(|r| {
                Ok(StoredMarket {
                    digest: r.try_get("digest")?,
                    id: r.try_get("id")?,
                    as_of: r.try_get("as_of")?,
                    market_json: r.try_get("market_json")?,
                    signatures_json: r.try_get("signatures_json")?,
                })
            })
            .transpose()
        })
        .await
    }

    /// The secret named `name`: the one stored, or else `fresh` stored now. Every
    /// process on this database gets the same one, whoever wrote it first.
    pub async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
        bounded(async {
            sqlx::query("INSERT INTO service_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(fresh)
                .bind(now)
                .execute(&self.pool)
                .await?;
            let row = sqlx::query("SELECT secret FROM service_secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
            Ok(row.try_get("secret")?)
        })
        .await
    }

    /// Records a nonce handed out now, expiring at `expires_at` (Unix ms): the schema 1
    /// way, kept for tools and tests that seed nonces (the service itself now issues
    /// stateless ones, see [`crate::nonce`]).
    pub async fn issue_challenge(&self, nonce: &str, issued_at: i64, expires_at: i64) -> Result<()> {
        bounded(async {
            sqlx::query("INSERT INTO challenges (nonce, issued_at, expires_at, used_by) VALUES ($1, $2, $3, NULL)")
                .bind(nonce)
                .bind(issued_at)
                .bind(expires_at)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// The challenge with this nonce.
    pub async fn challenge(&self, nonce: &str) -> Result<Option<Challenge>> {
        bounded(self.challenge_unbounded(nonce)).await
    }

    async fn challenge_unbounded(&self, nonce: &str) -> Result<Option<Challenge>> {
        let row = sqlx::query("SELECT nonce, expires_at, used_by FROM challenges WHERE nonce = $1")
            .bind(nonce)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(Challenge { nonce: r.try_get("nonce")?, expires_at: r.try_get("expires_at")?, used_by: r.try_get("used_by")? }))
            .transpose()
    }

    async fn one_verdict(&self, condition: &str, binds: &[&str]) -> Result<Option<Verdict>> {
        let sql = format!("SELECT {VERDICT_COLUMNS} FROM verdicts WHERE {condition} ORDER BY received_at DESC, id DESC LIMIT 1");
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = query.bind(*b);
        }
        query.fetch_optional(&self.pool).await?.as_ref().map(verdict_of).transpose()
    }

    /// The verdict stored under this key (`bundle_digest`).
    pub async fn verdict_by_digest(&self, bundle_digest: &str) -> Result<Option<Verdict>> {
        bounded(self.one_verdict("bundle_digest = $1", &[bundle_digest])).await
    }

    /// The latest verdict on the bundle whose canonical form has this digest; else one
    /// stored by schema 1 or 2 for these very bytes (`raw_digest`, the SHA-256 of the
    /// bytes posted).
    pub async fn latest_verdict(&self, canonical_digest: &str, raw_digest: &str) -> Result<Option<Verdict>> {
        bounded(async {
            match self.one_verdict("canonical_digest = $1", &[canonical_digest]).await? {
                Some(v) => Ok(Some(v)),
                None => self.one_verdict("bundle_digest = $1 AND canonical_digest IS NULL", &[raw_digest]).await,
            }
        })
        .await
    }

    /// Records that verdict `id` was found again under `depends_on` (a re-verification
    /// with the same outcome), so that the next post of its bundle is not verified again.
    pub async fn refresh_dependencies(&self, id: &str, depends_on: &Dependencies) -> Result<()> {
        bounded(async {
            sqlx::query("UPDATE verdicts SET policy_hash = $1, signatures_hash = $2 WHERE id = $3")
                .bind(&depends_on.policy_hash)
                .bind(&depends_on.signatures_hash)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// The verdict with this id.
    pub async fn verdict(&self, id: &str) -> Result<Option<Verdict>> {
        bounded(self.one_verdict("id = $1", &[id])).await
    }

    /// Stores a verdict in one transaction, committed before this returns. A valid
    /// verdict first consumes its nonce (unused, and unexpired at `verdict.received_at`
    /// by `nonce_expires_at` and by its stored row, if any); if it cannot, nothing is
    /// stored, unless the nonce was used by a verdict on the same bundle (its canonical
    /// form), which is then the answer. The same key stored before gives that verdict.
    /// The caller has checked that the nonce was issued here (its tag, or its schema 1
    /// row): a nonce with no row is taken as issued. Only a valid verdict's accounts are
    /// stored (for standing); an invalid one is its row alone.
    pub async fn record(&self, new: &NewVerdict) -> Result<Recorded> {
        bounded(self.record_unbounded(new)).await
    }

    async fn record_unbounded(&self, new: &NewVerdict) -> Result<Recorded> {
        let v = &new.verdict;
        let mut tx = self.pool.begin().await?;
        if v.valid {
            // Consumes the nonce: a first use inserts its row, a schema 1 row still unused
            // and unexpired is marked; a used (or expired schema 1) row changes nothing.
            let consumed = if new.nonce_expires_at > v.received_at {
                sqlx::query(
                    "INSERT INTO challenges (nonce, issued_at, expires_at, used_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (nonce) DO UPDATE SET used_by = excluded.used_by \
                     WHERE challenges.used_by IS NULL AND challenges.expires_at > $2",
                )
                .bind(&v.nonce)
                .bind(v.received_at)
                .bind(new.nonce_expires_at)
                .bind(&v.id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            } else {
                0
            };
            if consumed != 1 {
                tx.rollback().await?;
                if let Some(existing) = self.one_verdict("bundle_digest = $1", &[&v.bundle_digest]).await? {
                    return Ok(Recorded::Existing(Box::new(existing)));
                }
                let challenge = self.challenge_unbounded(&v.nonce).await?;
                if let (Some(user), Some(canonical)) = (challenge.as_ref().and_then(|c| c.used_by.as_deref()), &v.canonical_digest) {
                    // Used by this very bundle's valid verdict (verified again since): that one.
                    if let Some(mine) = self.one_verdict("id = $1 AND canonical_digest = $2", &[user, canonical]).await? {
                        return Ok(Recorded::Existing(Box::new(mine)));
                    }
                }
                return Ok(match challenge {
                    Some(c) if c.used_by.is_some() => Recorded::NonceUsed,
                    _ => Recorded::NonceExpired,
                });
            }
        }
        let (policy_hash, signatures_hash) = match &v.depends_on {
            Some(d) => (Some(d.policy_hash.clone()), Some(d.signatures_hash.clone())),
            None => (None, None),
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO verdicts ({VERDICT_COLUMNS}, bundle_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (bundle_digest) DO NOTHING"
        ))
        .bind(&v.id)
        .bind(&v.bundle_digest)
        .bind(v.valid as i64)
        .bind(v.reason.clone())
        .bind(&v.nonce)
        .bind(&v.market_digest)
        .bind(&v.market_as_of)
        .bind(&v.level)
        .bind(&v.threshold)
        .bind(&v.statement_json)
        .bind(v.received_at)
        .bind(v.canonical_digest.clone())
        .bind(policy_hash)
        .bind(signatures_hash)
        .bind(&new.bundle_json)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            tx.rollback().await?;
            let existing = self
                .one_verdict("bundle_digest = $1", &[&v.bundle_digest])
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("verdict for {} vanished", v.bundle_digest)))?;
            return Ok(Recorded::Existing(Box::new(existing)));
        }
        // An invalid verdict is a bounded record: no account rows (schema 3).
        if v.valid {
            for (venue, account) in &new.accounts {
                sqlx::query(
                    "INSERT INTO verdict_accounts (verdict_id, venue, account, received_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&v.id)
                .bind(venue)
                .bind(account)
                .bind(v.received_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Recorded::Stored)
    }

    /// The latest valid verdict covering (venue, account), received at or after `since`
    /// (Unix ms).
    pub async fn standing(&self, venue: &str, account: &str, since: i64) -> Result<Option<Verdict>> {
        bounded(async {
            let columns = VERDICT_COLUMNS.split(", ").map(|c| format!("v.{}", c.trim())).collect::<Vec<_>>().join(", ");
            let row = sqlx::query(&format!(
                "SELECT {columns} FROM verdicts v JOIN verdict_accounts a ON a.verdict_id = v.id \
                 WHERE a.venue = $1 AND a.account = $2 AND v.valid = 1 AND v.received_at >= $3 \
                 ORDER BY v.received_at DESC, v.id DESC LIMIT 1"
            ))
            .bind(venue)
            .bind(account)
            .bind(since)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(verdict_of).transpose()
        })
        .await
    }

    /// Every stored verdict (for audits and tests), oldest first.
    pub async fn all_verdicts(&self) -> Result<Vec<Verdict>> {
        bounded(async {
            let rows = sqlx::query(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts ORDER BY received_at, id"))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(verdict_of).collect()
        })
        .await
    }
}
