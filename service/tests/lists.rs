//! The credit desk's reads over real HTTP on loopback (issue 23): `GET /v1/proofs`,
//! `/v1/proofs/{id}/detail`, `/v1/markets`, `/v1/markets/{digest}`, `/v1/accounts` and
//! `/v1/policy` — the token
//! rule, newest-first order, filters, pagination by opaque cursor, the limit's cap, bad
//! cursors; and 10,000 stored verdicts paged through by index. Against SQLite and, when
//! `ZKMARGIN_TEST_POSTGRES_URL` is set, PostgreSQL.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Instant;

use serde_json::{json, Value};
use sqlx::any::AnyConnectOptions;
use sqlx::{Connection, Executor};
use zkmargin_verifier::trust::Policy;

mod common;
use common::*;

fn publisher_key() -> String {
    hex::encode(key(PUBLISHER).verifying_key().to_bytes())
}

/// Every page of `path` (which has a `?`), following `next`; the items in order and the
/// number of requests.
fn all_pages(base: &str, path: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    let mut requests = 0;
    loop {
        let url = match &next {
            Some(c) => format!("{path}&before={c}"),
            None => path.to_string(),
        };
        let a = get(base, &url, Some(TOKEN));
        requests += 1;
        assert_eq!(a.status, 200, "{url}: {}", a.text);
        items.extend(a.body["items"].as_array().unwrap().iter().cloned());
        match &a.body["next"] {
            Value::Null => return (items, requests),
            Value::String(c) => next = Some(c.clone()),
            other => panic!("next is {other}"),
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// A verdict row written straight into the database (as the service would store it).
struct Row {
    id: String,
    received_at: i64,
    valid: bool,
    accounts: Vec<(String, String)>,
}

/// Inserts `rows` (in batches, one transaction) with the example market's digest.
fn insert_rows(db: &str, rows: &[Row]) {
    let (_, url) = zkmargin_service::store::database_url(db);
    sqlx::any::install_default_drivers();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let market = market();
    runtime.block_on(async {
        let mut conn = sqlx::AnyConnection::connect_with(&AnyConnectOptions::from_str(&url).unwrap()).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        for batch in rows.chunks(200) {
            let mut sql = String::from(
                "INSERT INTO verdicts (id, bundle_digest, valid, reason, nonce, market_digest, market_as_of, level, threshold, \
                 statement_json, bundle_json, received_at) VALUES ",
            );
            let mut accounts_sql = String::from("INSERT INTO verdict_accounts (verdict_id, venue, account, received_at) VALUES ");
            let (mut n, mut m) = (0, 0);
            for (i, r) in batch.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let p: Vec<String> = (1..=12).map(|j| format!("${}", n + j)).collect();
                sql.push_str(&format!("({})", p.join(", ")));
                n += 12;
                for _ in &r.accounts {
                    if m > 0 {
                        accounts_sql.push_str(", ");
                    }
                    accounts_sql.push_str(&format!("(${}, ${}, ${}, ${})", m + 1, m + 2, m + 3, m + 4));
                    m += 4;
                }
            }
            let mut q = sqlx::query(&sql);
            for r in batch {
                let statement = json!({
                    "level": "maintenance", "threshold": "250.500000", "nonce": r.id,
                    "groups": [{"name": "main", "mode": "portfolio"}],
                    "accounts": r.accounts.iter().map(|(v, a)| json!({"venue": v, "account": a, "group": "main", "commitment": "00"})).collect::<Vec<_>>(),
                });
                q = q
                    .bind(r.id.clone())
                    .bind(r.id.clone())
                    .bind(r.valid as i64)
                    .bind(if r.valid { None } else { Some("made up".to_string()) })
                    .bind(r.id.clone())
                    .bind(market.digest_hex())
                    .bind(market.as_of.clone())
                    .bind("maintenance")
                    .bind("250.500000")
                    .bind(statement.to_string())
                    .bind("")
                    .bind(r.received_at);
            }
            q.execute(&mut *tx).await.unwrap();
            let mut q = sqlx::query(&accounts_sql);
            for r in batch {
                for (venue, account) in &r.accounts {
                    q = q.bind(r.id.clone()).bind(venue.clone()).bind(account.clone()).bind(r.received_at);
                }
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        conn.close().await.unwrap();
    });
}

fn with_standing_ttl(seconds: u64) -> Policy {
    let mut p = policy();
    p.standing_ttl_seconds = Some(seconds);
    p
}

#[test]
fn desk_reads_list_newest_first_with_filters_cursors_and_the_token_rule() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let server = Server::start(&db.url, with_standing_ttl(3600), 2, 8);
        let base = server.base.clone();
        assert_eq!(post_json(&base, "/v1/markets", &market_post(Some(PUBLISHER))).status, 201);
        seed_nonce(&db.url, NONCE, 600_000);

        // Two invalid verdicts, then the valid one (received in that order).
        let mut tampered = valid.clone();
        tampered["statement"]["threshold"] = json!("1001.000000");
        let t = post_json(&base, "/v1/proofs", &tampered);
        assert_eq!((t.status, &t.body["valid"]), (201, &json!(false)), "{}", t.text);
        let mut missing = valid.clone();
        missing.as_object_mut().unwrap().remove("attestations");
        let m = post_json(&base, "/v1/proofs", &missing);
        assert_eq!((m.status, &m.body["valid"]), (201, &json!(false)), "{}", m.text);
        let v = post_json(&base, "/v1/proofs", &valid);
        assert_eq!((v.status, &v.body["valid"]), (201, &json!(true)), "{}", v.text);
        let (valid_id, tampered_id, missing_id) =
            (v.body["id"].as_str().unwrap(), t.body["id"].as_str().unwrap(), m.body["id"].as_str().unwrap());

        // The token rule on every desk read.
        for path in ["/v1/proofs", "/v1/markets", &format!("/v1/markets/{}", market().digest_hex()), "/v1/accounts", "/v1/policy"] {
            assert_error(&get(&base, path, None), 401, "unauthorized");
            assert_error(&get(&base, path, Some("wrong-token")), 401, "unauthorized");
        }

        // Newest first, with what a desk reads at a glance.
        let a = get(&base, "/v1/proofs", Some(TOKEN));
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.body["next"], Value::Null);
        let items = a.body["items"].as_array().unwrap();
        assert_eq!(ids(items), [valid_id, missing_id, tampered_id]);
        let first = &items[0];
        assert_eq!(first["valid"], true);
        assert_eq!(first["reason"], Value::Null);
        assert_eq!(first["level"], "initial");
        assert_eq!(first["threshold"], valid["statement"]["threshold"]);
        assert_eq!(first["market"], json!({"id": market().id, "digest": market().digest_hex(), "as_of": market().as_of, "quote": "USD"}));
        assert_eq!(
            first["accounts"],
            json!([{"venue": "deribit", "account": "sub-1", "group": "cross"}, {"venue": "okx", "account": "main", "group": "cross"},
                   {"venue": "binance", "account": "iso-btc", "group": "iso-perp"}])
        );
        assert!(first["received_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(items[2]["valid"], false);
        assert_eq!(items[2]["threshold"], "1001.000000");
        assert!(items[1]["reason"].as_str().unwrap().contains("no attestation"), "{}", a.text);

        // Filters: outcome, venue, account (also newest first).
        let only = |q: &str| ids(get(&base, &format!("/v1/proofs?{q}"), Some(TOKEN)).body["items"].as_array().unwrap());
        assert_eq!(only("valid=true"), [valid_id]);
        assert_eq!(only("valid=false"), [missing_id, tampered_id]);
        // An invalid verdict is a bounded record without account rows (the hardened store):
        // venue and account filters find the valid verdicts that cover them.
        assert_eq!(only("venue=okx"), [valid_id]);
        assert_eq!(only("venue=okx&account=main"), [valid_id]);
        assert_eq!(only("venue=okx&account=main&valid=false"), Vec::<String>::new());
        assert_eq!(only("venue=okx&account=sub-1"), Vec::<String>::new());
        assert_eq!(only("venue=kraken"), Vec::<String>::new());

        // Pages of one, by cursor: the same three, in the same order (an account's pages
        // read the receipt time stored beside each account).
        for q in ["", "venue=deribit&account=sub-1", "venue=deribit", "valid=false"] {
            let (one_by_one, requests) = all_pages(&base, &format!("/v1/proofs?limit=1&{q}"));
            assert_eq!(ids(&one_by_one), only(q), "{q}");
            assert_eq!(requests, one_by_one.len().max(1), "{q}");
        }

        // Bad parameters: 400 malformed, naming what is wrong.
        for bad in [
            "/v1/proofs?before=zz",
            "/v1/proofs?before=7b7d",
            "/v1/proofs?limit=0",
            "/v1/proofs?limit=-3",
            "/v1/proofs?limit=many",
            "/v1/proofs?valid=yes",
            "/v1/proofs?account=main",
            "/v1/proofs?sort=oldest",
            "/v1/markets?before=00",
            "/v1/accounts?before=abc",
        ] {
            assert_error(&get(&base, bad, Some(TOKEN)), 400, "malformed");
        }
        // A cursor of another list is refused too.
        let markets_cursor = all_pages(&base, "/v1/markets?limit=1").0;
        assert_eq!(markets_cursor.len(), 1);
        let proofs_page = get(&base, "/v1/proofs?limit=1", Some(TOKEN));
        let cursor = proofs_page.body["next"].as_str().unwrap();
        let a = get(&base, &format!("/v1/markets?before={cursor}"), Some(TOKEN));
        assert_error(&a, 400, "malformed");
        assert!(a.body["error"]["message"].as_str().unwrap().contains("cursor"), "{}", a.text);
        let a = get(&base, &format!("/v1/accounts?before={cursor}"), Some(TOKEN));
        assert_error(&a, 400, "malformed");

        // Markets: the one stored, its signer, and the market itself by digest.
        let a = get(&base, "/v1/markets", Some(TOKEN));
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.body["next"], Value::Null);
        let item = &a.body["items"][0];
        assert_eq!(item["id"], market().id);
        assert_eq!(item["digest"], market().digest_hex());
        assert_eq!(item["as_of"], market().as_of);
        assert_eq!(item["quote"], "USD");
        assert_eq!(item["signers"], json!([publisher_key()]));
        let a = get(&base, &format!("/v1/markets/{}", market().digest_hex().to_uppercase()), Some(TOKEN));
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(zkmargin_circuits::market::Market::from_json("answer", &a.text).unwrap().digest_hex(), market().digest_hex());
        assert_error(&get(&base, &format!("/v1/markets/{}", "00".repeat(32)), Some(TOKEN)), 404, "not_found");

        // One verdict's detail: its list item, the statement, the bundle's digest and the
        // attestations it carried (null for an invalid one, whose bundle is not kept).
        let d = get(&base, &format!("/v1/proofs/{valid_id}/detail"), Some(TOKEN));
        assert_eq!(d.status, 200, "{}", d.text);
        assert_eq!(d.body["statement"], valid["statement"]);
        // The bundle kept is its canonical form: the attestations sorted (SPEC section 9).
        let sorted = |v: &Value| {
            let mut list = v.as_array().unwrap().clone();
            list.sort_by_key(|a| a.to_string());
            list
        };
        assert_eq!(sorted(&d.body["attestations"]), sorted(&valid["attestations"]));
        assert_eq!(d.body["market"]["quote"], "USD");
        assert_eq!(d.body["accounts"], items[0]["accounts"]);
        assert_eq!(d.body["bundle_digest"].as_str().map(str::len), Some(64));
        let d = get(&base, &format!("/v1/proofs/{tampered_id}/detail"), Some(TOKEN));
        assert_eq!((d.body["valid"].clone(), d.body["attestations"].clone()), (json!(false), Value::Null), "{}", d.text);
        assert_eq!(d.body["statement"]["threshold"], "1001.000000");
        assert_error(&get(&base, &format!("/v1/proofs/{valid_id}/detail"), None), 401, "unauthorized");
        assert_error(&get(&base, "/v1/proofs/nope/detail", Some(TOKEN)), 404, "not_found");

        // The policy in force, as the desk reads it.
        let a = get(&base, "/v1/policy", Some(TOKEN));
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.body["standing_ttl_seconds"], 3600);
        assert_eq!(a.body["publishers"], json!([publisher_key()]));

        // Accounts by venue and name, each with its standing; one whose only valid proof
        // is older than the standing TTL is stale (and GET /v1/standing has none for it).
        let now = zkmargin_service::http::now_ms();
        insert_rows(
            &db.url,
            &[Row { id: "old-valid".into(), received_at: now - 7_200_000, valid: true, accounts: vec![("deribit".into(), "old".into())] }],
        );
        let (accounts, _) = all_pages(&base, "/v1/accounts?limit=2");
        let names: Vec<String> =
            accounts.iter().map(|a| format!("{}/{}", a["venue"].as_str().unwrap(), a["account"].as_str().unwrap())).collect();
        assert_eq!(names, ["binance/iso-btc", "deribit/old", "deribit/sub-1", "okx/main"]);
        let sub1 = &accounts[2]["standing"];
        assert_eq!(sub1["proof"], valid_id);
        assert_eq!(sub1["level"], "initial");
        assert_eq!(sub1["stale"], false);
        let stale_at = zkmargin_circuits::time::parse_rfc3339(sub1["stale_at"].as_str().unwrap()).unwrap();
        assert!((now / 1000 + 3590..=now / 1000 + 3610).contains(&stale_at), "{sub1}");
        let standing = get(&base, "/v1/standing?venue=deribit&account=sub-1", Some(TOKEN));
        assert_eq!(standing.body["proof"], sub1["proof"]);
        assert_eq!(standing.body["age_seconds"], sub1["age_seconds"]);
        let old = &accounts[1]["standing"];
        assert_eq!((old["proof"].as_str(), &old["stale"]), (Some("old-valid"), &json!(true)), "{old}");
        assert_error(&get(&base, "/v1/standing?venue=deribit&account=old", Some(TOKEN)), 404, "no_standing");
        server.stop();

        // Without a standing TTL nothing is stale and there is no stale_at.
        let server = Server::start(&db.url, policy(), 1, 1);
        let (accounts, _) = all_pages(&server.base, "/v1/accounts?limit=100");
        assert!(accounts.iter().all(|a| a["standing"]["stale"] == false && a["standing"]["stale_at"].is_null()), "{accounts:?}");
        server.stop();
    }
}

/// The accounts of the synthetic verdict `i`: one or two of 20 accounts on 3 venues.
fn synthetic_accounts(i: usize) -> Vec<(String, String)> {
    let venues = ["binance", "deribit", "okx"];
    let account = |j: usize| (venues[j % 3].to_string(), format!("acct-{:02}", j % 20));
    if i.is_multiple_of(5) {
        vec![account(i), account(i + 7)]
    } else {
        vec![account(i)]
    }
}

#[test]
fn ten_thousand_verdicts_page_through_by_index() {
    const N: usize = 10_000;
    for db in databases() {
        eprintln!("== {}", db.name);
        let server = Server::start(&db.url, policy(), 1, 1);
        let base = server.base.clone();
        assert_eq!(post_json(&base, "/v1/markets", &market_post(Some(PUBLISHER))).status, 201);
        // Receipt times in pairs (two verdicts stored in the same millisecond: the id
        // orders them), every third one invalid.
        let rows: Vec<Row> = (0..N)
            .map(|i| Row {
                id: format!("{:032x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15) % (1u128 << 120)),
                received_at: 1_700_000_000_000 + (i / 2) as i64 * 1000,
                valid: i % 3 != 0,
                accounts: synthetic_accounts(i),
            })
            .collect();
        let started = Instant::now();
        insert_rows(&db.url, &rows);
        eprintln!("inserted {N} verdicts in {:?}", started.elapsed());
        let mut expected: Vec<&Row> = rows.iter().collect();
        expected.sort_by(|a, b| (b.received_at, &b.id).cmp(&(a.received_at, &a.id)));
        let expect = |keep: &dyn Fn(&Row) -> bool| expected.iter().filter(|r| keep(r)).map(|r| r.id.clone()).collect::<Vec<_>>();

        // Every verdict once, newest first, 100 a page (a larger limit is capped).
        let started = Instant::now();
        let (items, requests) = all_pages(&base, "/v1/proofs?limit=1000");
        let elapsed = started.elapsed();
        assert_eq!(requests, N / 100);
        assert_eq!(ids(&items), expect(&|_| true));
        eprintln!("{N} verdicts in {requests} pages of 100: {elapsed:?} ({:?} a page)", elapsed / requests as u32);
        let first = get(&base, "/v1/proofs", Some(TOKEN));
        assert_eq!(first.body["items"].as_array().unwrap().len(), DEFAULT_LIMIT);

        // Filtered lists page through the same way.
        let (items, _) = all_pages(&base, "/v1/proofs?valid=false&limit=100");
        assert_eq!(ids(&items), expect(&|r| !r.valid));
        let (items, _) = all_pages(&base, "/v1/proofs?venue=okx&account=acct-05&limit=37");
        let want = expect(&|r| r.accounts.iter().any(|(v, a)| v == "okx" && a == "acct-05"));
        assert!(want.len() > 100, "{}", want.len());
        assert_eq!(ids(&items), want);
        let (items, _) = all_pages(&base, "/v1/proofs?venue=binance&account=acct-12&valid=true&limit=100");
        assert_eq!(ids(&items), expect(&|r| r.valid && r.accounts.iter().any(|(v, a)| v == "binance" && a == "acct-12")));
        let (items, _) = all_pages(&base, "/v1/proofs?venue=deribit&limit=100");
        assert_eq!(ids(&items), expect(&|r| r.accounts.iter().any(|(v, _)| v == "deribit")));

        // Accounts, by name, in pages of 7.
        let (accounts, _) = all_pages(&base, "/v1/accounts?limit=7");
        let names: Vec<(String, String)> =
            accounts.iter().map(|a| (a["venue"].as_str().unwrap().into(), a["account"].as_str().unwrap().into())).collect();
        let want: BTreeSet<(String, String)> = rows.iter().flat_map(|r| r.accounts.clone()).collect();
        assert_eq!(names, want.into_iter().collect::<Vec<_>>());
        // Its standing: the newest valid verdict covering it, or null when none does.
        for (a, (venue, account)) in accounts.iter().zip(&names) {
            let newest_valid = expected.iter().find(|r| r.valid && r.accounts.contains(&(venue.clone(), account.clone())));
            assert_eq!(a["standing"]["proof"].as_str(), newest_valid.map(|r| r.id.as_str()), "{a}");
        }
        assert!(accounts.iter().any(|a| a["standing"].is_null()));
        server.stop();

        if db.name == "sqlite" {
            assert_pages_use_indexes(&db.url);
        }
    }
}

/// SQLite's plan of every kind of page: each walks an index (no scan of a whole table, no
/// sort of its rows).
fn assert_pages_use_indexes(db: &str) {
    use zkmargin_service::store::{account_page_sql, market_page_sql, verdict_page_sql, Bind, Newest, VerdictFilter};
    let before = Newest { received_at: 1_700_000_004_000, key: "ab".into() };
    let filters = [
        VerdictFilter::default(),
        VerdictFilter { valid: Some(false), ..Default::default() },
        VerdictFilter { venue: Some("okx".into()), account: Some("acct-05".into()), ..Default::default() },
        VerdictFilter { venue: Some("okx".into()), account: Some("acct-05".into()), valid: Some(true) },
        VerdictFilter { venue: Some("okx".into()), ..Default::default() },
    ];
    let mut pages = Vec::new();
    for f in &filters {
        pages.push(verdict_page_sql(f, None, 51));
        pages.push(verdict_page_sql(f, Some(&before), 51));
    }
    pages.push(market_page_sql(None, 51));
    pages.push(market_page_sql(Some(&before), 51));
    pages.push(account_page_sql(Some(&("okx".into(), "acct-05".into())), 51));
    let (_, url) = zkmargin_service::store::database_url(db);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::AnyConnection::connect_with(&AnyConnectOptions::from_str(&url).unwrap()).await.unwrap();
        conn.execute("ANALYZE").await.unwrap();
        for (sql, binds) in pages {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let mut q = sqlx::query(&explain);
            for b in binds {
                q = match b {
                    Bind::Int(i) => q.bind(i),
                    Bind::Text(s) => q.bind(s),
                };
            }
            let rows = conn.fetch_all(q).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| sqlx::Row::get::<String, _>(r, "detail")).collect();
            let plan = plan.join(" | ");
            assert!(!plan.contains("TEMP B-TREE"), "a page sorts its rows: {sql}\n{plan}");
            for table in ["verdicts", "verdict_accounts", "markets"] {
                for alias in [table, &table[..1]] {
                    let scan = format!("SCAN {alias}");
                    let whole = plan.split(" | ").any(|step| step == scan || step.starts_with(&format!("{scan} ")) && !step.contains("INDEX"));
                    assert!(!whole, "a page reads all of {table}: {sql}\n{plan}");
                }
            }
            eprintln!("{plan}");
        }
        conn.close().await.unwrap();
    });
}

const DEFAULT_LIMIT: usize = zkmargin_service::http::DEFAULT_LIMIT;
