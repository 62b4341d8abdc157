//! The credit desk's paginated reads: verdicts, markets and accounts, newest first (accounts
//! by name), by keyset pagination on indexed columns (`migrations/0005_desk.sql`). A page
//! walks an index from the cursor and stops after `limit + 1` rows (the extra one only says
//! whether there is a next page): its cost does not grow with the table.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Result, Store};

/// A verdict as the desk lists it. Tolerant of what a row may lack (a bounded invalid
/// record need not keep its statement): every column but the key may be absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVerdict {
    /// Verdict id.
    pub id: String,
    /// Whether the bundle was valid.
    pub valid: bool,
    /// Why not, when invalid.
    pub reason: Option<String>,
    /// Market digest.
    pub market_digest: Option<String>,
    /// Market `as_of`.
    pub market_as_of: Option<String>,
    /// Statement level.
    pub level: Option<String>,
    /// Statement threshold (decimal string).
    pub threshold: Option<String>,
    /// The statement, JSON (empty or absent when not kept).
    pub statement_json: Option<String>,
    /// When the verdict was stored (Unix ms).
    pub received_at: i64,
}

/// Which verdicts a list shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerdictFilter {
    /// Only valid (`Some(true)`) or only invalid (`Some(false)`) verdicts.
    pub valid: Option<bool>,
    /// Only verdicts whose statement covers an account of this venue.
    pub venue: Option<String>,
    /// With `venue`: only verdicts covering this account of that venue.
    pub account: Option<String>,
}

/// Where a page of a newest-first list starts: strictly after (older than) this row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Newest {
    /// The row's time (Unix ms).
    pub received_at: i64,
    /// The row's key (verdict id, market digest): orders rows stored in the same ms.
    pub key: String,
}

/// A stored market as the desk lists it (without its JSON, which can be megabytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedMarket {
    /// Market digest (hex).
    pub digest: String,
    /// Market id.
    pub id: String,
    /// Market `as_of`.
    pub as_of: String,
    /// The accepted publisher signatures, a JSON array.
    pub signatures_json: String,
    /// When it was first stored (Unix ms).
    pub received_at: i64,
}

/// One verdict with what the desk's detail shows beyond its list item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictDetail {
    /// What the list shows.
    pub verdict: ListedVerdict,
    /// SHA-256 (hex) of the bytes posted.
    pub bundle_digest: Option<String>,
    /// The bundle as posted, when it was kept (valid verdicts; empty otherwise).
    pub bundle_json: Option<String>,
}

/// The columns a verdict list reads (`v` is `verdicts`).
const LISTED_COLUMNS: &str =
    "v.id, v.valid, v.reason, v.market_digest, v.market_as_of, v.level, v.threshold, v.statement_json, v.received_at";

fn listed_of(row: &AnyRow) -> Result<ListedVerdict> {
    Ok(ListedVerdict {
        id: row.try_get("id")?,
        valid: row.try_get::<Option<i64>, _>("valid")?.unwrap_or(0) != 0,
        reason: row.try_get("reason")?,
        market_digest: row.try_get("market_digest")?,
        market_as_of: row.try_get("market_as_of")?,
        level: row.try_get("level")?,
        threshold: row.try_get("threshold")?,
        statement_json: row.try_get("statement_json")?,
        received_at: row.try_get("received_at")?,
    })
}

/// A value bound to a `$N` placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    /// A BIGINT.
    Int(i64),
    /// A TEXT.
    Text(String),
}

/// SQL text with its `$N` placeholders' values, built clause by clause.
#[derive(Debug, Default)]
struct Query {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Query {
    /// The next placeholder, bound to `value`.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// `time <= t AND (time < t OR key < k)`: strictly older than `before` in
    /// (time, key) order, written so that both databases range-scan the index on
    /// (…, time, key) instead of evaluating a row comparison on every row.
    fn older_than(&mut self, time: &str, key: &str, before: &Newest) {
        let t = self.bind(Bind::Int(before.received_at));
        let k = self.bind(Bind::Text(before.key.clone()));
        self.conditions.push(format!("{time} <= {t} AND ({time} < {t} OR {key} < {k})"));
    }

    fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// The SQL of one page of verdicts (newest first; `limit` rows) and its bound values.
/// Public so that tests and audits can `EXPLAIN` exactly what a page runs.
///
/// With an account, the page walks `verdict_accounts (venue, account, received_at,
/// verdict_id)` and looks each verdict up by its key; otherwise `verdicts (received_at,
/// id)`, or `verdicts (valid, received_at, id)` when filtered by outcome, probing the
/// accounts' primary key for a venue.
pub fn verdict_page_sql(filter: &VerdictFilter, before: Option<&Newest>, limit: usize) -> (String, Vec<Bind>) {
    let mut q = Query::default();
    let (from, time, key) = match (&filter.venue, &filter.account) {
        (Some(venue), Some(account)) => {
            let v = q.bind(Bind::Text(venue.clone()));
            let a = q.bind(Bind::Text(account.clone()));
            q.conditions.push(format!("a.venue = {v} AND a.account = {a}"));
            ("verdict_accounts a JOIN verdicts v ON v.id = a.verdict_id", "a.received_at", "a.verdict_id")
        }
        (venue, _) => {
            if let Some(venue) = venue {
                let v = q.bind(Bind::Text(venue.clone()));
                q.conditions.push(format!(
                    "EXISTS (SELECT 1 FROM verdict_accounts a WHERE a.verdict_id = v.id AND a.venue = {v})"
                ));
            }
            ("verdicts v", "v.received_at", "v.id")
        }
    };
    if let Some(valid) = filter.valid {
        let b = q.bind(Bind::Int(valid as i64));
        q.conditions.push(format!("v.valid = {b}"));
    }
    if let Some(before) = before {
        q.older_than(time, key, before);
    }
    let l = q.bind(Bind::Int(limit as i64));
    let sql = format!("SELECT {LISTED_COLUMNS} FROM {from}{} ORDER BY {time} DESC, {key} DESC LIMIT {l}", q.where_clause());
    (sql, q.binds)
}

/// The SQL of one page of markets (newest first) and its bound values.
pub fn market_page_sql(before: Option<&Newest>, limit: usize) -> (String, Vec<Bind>) {
    let mut q = Query::default();
    if let Some(before) = before {
        q.older_than("received_at", "digest", before);
    }
    let l = q.bind(Bind::Int(limit as i64));
    let sql = format!(
        "SELECT digest, id, as_of, signatures_json, received_at FROM markets{} \
         ORDER BY received_at DESC, digest DESC LIMIT {l}",
        q.where_clause()
    );
    (sql, q.binds)
}

/// The SQL of one page of accounts (venue, account) that some verdict covers, by name,
/// after `after`, and its bound values.
pub fn account_page_sql(after: Option<&(String, String)>, limit: usize) -> (String, Vec<Bind>) {
    let mut q = Query::default();
    if let Some((venue, account)) = after {
        let v = q.bind(Bind::Text(venue.clone()));
        let a = q.bind(Bind::Text(account.clone()));
        q.conditions.push(format!("venue >= {v} AND (venue > {v} OR account > {a})"));
    }
    let l = q.bind(Bind::Int(limit as i64));
    let sql =
        format!("SELECT DISTINCT venue, account FROM verdict_accounts{} ORDER BY venue, account LIMIT {l}", q.where_clause());
    (sql, q.binds)
}

/// A page of `limit` rows out of the `limit + 1` read, and whether there are more.
fn split<T>(mut rows: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

impl Store {
    async fn page(&self, (sql, binds): (String, Vec<Bind>)) -> Result<Vec<AnyRow>> {
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = match b {
                Bind::Int(i) => query.bind(i),
                Bind::Text(s) => query.bind(s),
            };
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Up to `limit` verdicts matching `filter`, newest first, older than `before`; and
    /// whether more follow.
    pub async fn list_verdicts(
        &self,
        filter: &VerdictFilter,
        before: Option<&Newest>,
        limit: usize,
    ) -> Result<(Vec<ListedVerdict>, bool)> {
        let rows = self.page(verdict_page_sql(filter, before, limit + 1)).await?;
        Ok(split(rows.iter().map(listed_of).collect::<Result<Vec<_>>>()?, limit))
    }

    /// The verdict with this id, with its bundle digest and the bundle kept, if any.
    pub async fn verdict_detail(&self, id: &str) -> Result<Option<VerdictDetail>> {
        let row = sqlx::query(&format!("SELECT {LISTED_COLUMNS}, v.bundle_digest, v.bundle_json FROM verdicts v WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(VerdictDetail { verdict: listed_of(&r)?, bundle_digest: r.try_get("bundle_digest")?, bundle_json: r.try_get("bundle_json")? })
        })
        .transpose()
    }

    /// Up to `limit` stored markets, newest first, older than `before`; and whether more
    /// follow.
    pub async fn list_markets(&self, before: Option<&Newest>, limit: usize) -> Result<(Vec<ListedMarket>, bool)> {
        let rows = self.page(market_page_sql(before, limit + 1)).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(ListedMarket {
                    digest: r.try_get("digest")?,
                    id: r.try_get("id")?,
                    as_of: r.try_get("as_of")?,
                    signatures_json: r.try_get("signatures_json")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(split(items, limit))
    }

    /// Up to `limit` accounts (venue, account) covered by some stored verdict, by name,
    /// after `after`; and whether more follow.
    pub async fn list_accounts(&self, after: Option<&(String, String)>, limit: usize) -> Result<(Vec<(String, String)>, bool)> {
        let rows = self.page(account_page_sql(after, limit + 1)).await?;
        let items =
            rows.iter().map(|r| Ok((r.try_get("venue")?, r.try_get("account")?))).collect::<Result<Vec<(String, String)>>>()?;
        Ok(split(items, limit))
    }
}
