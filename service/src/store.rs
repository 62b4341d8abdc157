//! Durable storage of markets, challenges and verdicts: one schema, versioned migrations,
//! SQLite (a file, embedded) or PostgreSQL (a `postgres://` URL, shared by replicas).
//!
//! Built on sqlx's `Any` driver with runtime queries (there is no database at build time,
//! so no compile-time checked macros) and portable SQL: `$N` placeholders, TEXT and BIGINT
//! columns, `ON CONFLICT DO NOTHING`. Every rule that must hold across processes is
//! enforced by the database, never in memory:
//!
//! - a verdict is stored once per posted byte string (`verdicts.bundle_digest` UNIQUE);
//! - a nonce is consumed by at most one valid verdict: in the same transaction as the
//!   verdict's `INSERT`, an `INSERT INTO challenges ... ON CONFLICT (nonce) DO UPDATE SET
//!   used_by = ... WHERE used_by IS NULL AND expires_at > now` (a stateless nonce gets its
//!   row now; a row issued by schema 1 is marked), backed by a partial unique index on
//!   `verdicts (nonce) WHERE valid = 1`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Connection, Executor, Row};

/// Storage failures (answered 500 / 503 by the service, never a verdict).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
    (5, "desk", include_str!("../migrations/0005_desk.sql")),
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
    /// The statement, JSON.
    pub statement_json: String,
    /// When the verdict was stored (Unix ms).
    pub received_at: i64,
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

const VERDICT_COLUMNS: &str =
    "id, bundle_digest, valid, reason, nonce, market_digest, market_as_of, level, threshold, statement_json, received_at";

fn verdict_of(row: &AnyRow) -> Result<Verdict> {
    Ok(Verdict {
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

impl Store {
    /// Connects to `db` (see [`database_url`]) and applies the migrations.
    pub async fn open(db: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = database_url(db);
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durable commits (fsync on commit), readers beside one writer,
                        // writers wait for each other instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
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

    /// A cheap round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// Stores a market; `Ok(true)` if it is new. An existing market keeps its row and
    /// gains the signatures it did not have (`merge` decides the union).
    pub async fn put_market(&self, market: &StoredMarket, now: i64, merge: impl Fn(&str) -> Option<String>) -> Result<bool> {
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
    }

    /// The market with this digest.
    pub async fn market(&self, digest: &str) -> Result<Option<StoredMarket>> {
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
    }

    /// The secret named `name`: the one stored, or else `fresh` stored now. Every
    /// process on this database gets the same one, whoever wrote it first.
    pub async fn secret(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
        sqlx::query("INSERT INTO service_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT secret FROM service_secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get("secret")?)
    }

    /// Records a nonce handed out now, expiring at `expires_at` (Unix ms): the schema 1
    /// way, kept for tools and tests that seed nonces (the service itself now issues
    /// stateless ones, see [`crate::nonce`]).
    pub async fn issue_challenge(&self, nonce: &str, issued_at: i64, expires_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO challenges (nonce, issued_at, expires_at, used_by) VALUES ($1, $2, $3, NULL)")
            .bind(nonce)
            .bind(issued_at)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The challenge with this nonce.
    pub async fn challenge(&self, nonce: &str) -> Result<Option<Challenge>> {
        let row = sqlx::query("SELECT nonce, expires_at, used_by FROM challenges WHERE nonce = $1")
            .bind(nonce)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(Challenge { nonce: r.try_get("nonce")?, expires_at: r.try_get("expires_at")?, used_by: r.try_get("used_by")? }))
            .transpose()
    }

    /// The verdict stored for these bytes.
    pub async fn verdict_by_digest(&self, bundle_digest: &str) -> Result<Option<Verdict>> {
        let row = sqlx::query(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts WHERE bundle_digest = $1"))
            .bind(bundle_digest)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(verdict_of).transpose()
    }

    /// The verdict with this id.
    pub async fn verdict(&self, id: &str) -> Result<Option<Verdict>> {
        let row = sqlx::query(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(verdict_of).transpose()
    }

    /// Stores a verdict in one transaction, committed before this returns. A valid
    /// verdict first consumes its nonce (unused, and unexpired at `verdict.received_at`
    /// by `nonce_expires_at` and by its stored row, if any); if it cannot, nothing is
    /// stored. The same bytes stored before give that verdict. The caller has checked
    /// that the nonce was issued here (its tag, or its schema 1 row): a nonce with no
    /// row is taken as issued.
    pub async fn record(&self, new: &NewVerdict) -> Result<Recorded> {
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
                if let Some(existing) = self.verdict_by_digest(&v.bundle_digest).await? {
                    return Ok(Recorded::Existing(Box::new(existing)));
                }
                return Ok(match self.challenge(&v.nonce).await? {
                    Some(c) if c.used_by.is_some() => Recorded::NonceUsed,
                    _ => Recorded::NonceExpired,
                });
            }
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO verdicts ({VERDICT_COLUMNS}, bundle_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
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
        .bind(&new.bundle_json)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted != 1 {
            tx.rollback().await?;
            let existing = self
                .verdict_by_digest(&v.bundle_digest)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("verdict for {} vanished", v.bundle_digest)))?;
            return Ok(Recorded::Existing(Box::new(existing)));
        }
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
        tx.commit().await?;
        Ok(Recorded::Stored)
    }

    /// The latest valid verdict covering (venue, account), received at or after `since`
    /// (Unix ms).
    pub async fn standing(&self, venue: &str, account: &str, since: i64) -> Result<Option<Verdict>> {
        let columns = VERDICT_COLUMNS.split(", ").map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", ");
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
    }

    /// Every stored verdict (for audits and tests), oldest first.
    pub async fn all_verdicts(&self) -> Result<Vec<Verdict>> {
        let rows = sqlx::query(&format!("SELECT {VERDICT_COLUMNS} FROM verdicts ORDER BY received_at, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(verdict_of).collect()
    }
}
