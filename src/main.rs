//! `zkmargin`: prove that collateral covers margin without revealing positions.
#![forbid(unsafe_code)]

#[macro_use]
mod io;
mod client;
mod commands;
mod error;
mod evm;
mod progress;
mod publish;
mod trust;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zkmargin_circuits::fixed::{parse_units, DecimalKind, RATE_SCALE};
use zkmargin_circuits::market::{Level, PerLevel};
use zkmargin_prover::engine;
use zkmargin_prover::report;
use zkmargin_prover::sample::{self, Profile};
use zkmargin_publisher::build::Method;

use crate::error::CliError;

/// Zero-knowledge margin proofs over private positions (halo2, IPA, no trusted setup).
#[derive(Parser)]
#[command(name = "zkmargin", version, about, long_about = None)]
struct Cli {
    /// Show no progress on stderr (stages of parameter generation, keys, witness, proof).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// The covenants of SPEC section 10 on the command line: `prove` claims them, `verify`
/// requires at least them.
#[derive(clap::Args, Debug)]
struct CovenantArgs {
    /// Margin ratio covenant: every group's equity >= R times its requirement (a rate in
    /// [1, 1000], at most 6 decimals).
    #[arg(long = "min-ratio", value_name = "R")]
    min_ratio: Option<String>,
    /// Equity floor covenant: the groups' total equity >= E (money; may be negative).
    #[arg(long = "min-equity", value_name = "E", allow_hyphen_values = true)]
    min_equity: Option<String>,
    /// Leverage cap covenant: gross notional of the net positions <= L times total equity
    /// (a rate above 0; every instrument held needs a notional in the market).
    #[arg(long = "max-leverage", value_name = "L", allow_hyphen_values = true)]
    max_leverage: Option<String>,
}

impl CovenantArgs {
    fn parse(&self) -> Result<zkmargin_circuits::statement::Covenants, CliError> {
        commands::covenants(self.min_ratio.as_deref(), self.min_equity.as_deref(), self.max_leverage.as_deref())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the exact margin report of a portfolio against a market (no proof).
    ///
    /// Per group: equity; per level the requirement, excess, margin ratio (equity /
    /// requirement) and worst joint scenario; the worst loss of each risk class the group
    /// holds. Totals: excess per level, equity, gross notional and leverage (gross
    /// notional / total equity). Money has 6 decimals: requirements, class losses, gross
    /// notional and leverage rounded up; equity, excess and ratios rounded down.
    Margin {
        /// Public market snapshot (market.json).
        #[arg(long)]
        market: PathBuf,
        /// Private portfolio (portfolio.json).
        #[arg(long)]
        portfolio: PathBuf,
        /// Print the report as one JSON object (SPEC section 6, with `classes` and `ratio`
        /// per level and `equity`, `gross_notional`, `leverage` in `total`).
        #[arg(long)]
        json: bool,
    },
    /// Write a realistic sample market.json and portfolio.json.
    Sample {
        /// Size: small, medium or large.
        #[arg(long, default_value = "small")]
        profile: Profile,
        /// Seed; the same seed writes the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory to write into (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Write the market with this `class_offset` (a rate in [0, 1], both levels):
        /// every instrument's class is its underlying, so 0 margins each underlying on
        /// its own and sums them; the collateral is sized for the higher requirement.
        /// Absent: no offset (1, the joint figure).
        #[arg(long = "class-offset", value_name = "R", allow_negative_numbers = true)]
        class_offset: Option<String>,
        /// Haircut BTC and ETH by tiers (5 and 20 BTC, 100 and 500 ETH: 5 and 15 points
        /// more above each) instead of one haircut.
        #[arg(long)]
        tiers: bool,
    },
    /// Add a fresh random salt to every account of a portfolio that has none.
    ///
    /// Writes the portfolio in place, on purpose (the only command that replaces its
    /// input; atomically, and only when a salt was added): keep a copy if you need one.
    Init {
        /// Portfolio to update in place (rewritten as pretty JSON when a salt is added).
        #[arg(long)]
        portfolio: PathBuf,
    },
    /// Print each account's commitment (what its venue attests).
    Commit {
        /// Private portfolio (every account needs a salt).
        #[arg(long)]
        portfolio: PathBuf,
        /// Print JSON: [{"venue", "account", "commitment"}].
        #[arg(long)]
        json: bool,
    },
    /// Prove that the portfolio meets a margin level with at least a threshold of excess.
    Prove {
        /// Public market snapshot.
        #[arg(long)]
        market: PathBuf,
        /// Private portfolio (every account needs a salt).
        #[arg(long)]
        portfolio: PathBuf,
        /// Margin level: initial or maintenance.
        #[arg(long)]
        level: Level,
        /// Minimum total excess to prove, a decimal string (e.g. 1000000 or 1000000.5).
        #[arg(long)]
        threshold: String,
        /// Nonce (hex) to bind into the statement, e.g. from `zkmargin challenge`.
        #[arg(long)]
        nonce: Option<String>,
        /// A venue's attestation of an account's commitment, carried in the bundle; repeat.
        #[arg(long = "attestation")]
        attestations: Vec<PathBuf>,
        /// Covenants to claim besides the threshold (refused, exit 1, naming the covenant
        /// and for a ratio the group, when one does not hold).
        #[command(flatten)]
        covenants: CovenantArgs,
        /// Where to write the proof bundle.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify proof bundles against market snapshots: one verdict line per bundle.
    ///
    /// Exit 0 only if every bundle is valid for what was asked, 1 otherwise, 2 for an
    /// unreadable market or bundle file.
    Verify {
        /// Public market snapshot; repeat for several (each bundle is checked against
        /// the one whose digest it names).
        #[arg(long = "market", required = true)]
        markets: Vec<PathBuf>,
        /// Proof bundle; repeat for several (checked together, batched per market,
        /// level and shape).
        #[arg(long = "proof", required = true)]
        proofs: Vec<PathBuf>,
        /// Print one JSON object per bundle (file, valid, reason, level, threshold, accounts, ...).
        #[arg(long)]
        json: bool,
        /// Require the statement to be at this margin level: initial or maintenance.
        #[arg(long)]
        level: Option<Level>,
        /// Accept a stricter level than asked (an initial-level proof for a maintenance
        /// request); with a value, require at least that level.
        #[arg(long = "level-at-least", num_args = 0..=1, value_name = "LEVEL")]
        level_at_least: Option<Option<Level>>,
        /// Require this account (VENUE/ACCOUNT) to be in the statement; repeat.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Require the proof to state at least this excess.
        #[arg(long)]
        threshold: Option<String>,
        /// Require the statement to carry this nonce.
        #[arg(long)]
        nonce: Option<String>,
        /// Require covenants: the statement must claim at least this ratio and floor, and
        /// at most this leverage (invalid, naming the covenant, otherwise).
        #[command(flatten)]
        covenants: CovenantArgs,
        /// Refuse, before any work, circuits larger than 2^K rows.
        #[arg(long = "max-k", default_value_t = zkmargin_verifier::expect::DEFAULT_MAX_K)]
        max_k: u32,
        /// Trust policy: trusted publishers and venue keys, attestation age, nonce rule, netting.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// A publisher's signature of the market (required by a policy); repeat for a
        /// policy's `publisher_quorum`.
        #[arg(long = "market-sig")]
        market_sigs: Vec<PathBuf>,
        /// The time (RFC 3339) a policy's `max_market_age_seconds` measures the market's
        /// age at (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Write a new key pair: NAME.key (secret, mode 0600) and NAME.pub (Ed25519 by
    /// default; secp256k1 for EVM verdicts, NAME.pub then holding the address).
    Keygen {
        /// Path and base name of the two files.
        #[arg(long)]
        out: PathBuf,
        /// Signature scheme: ed25519 (markets, attestations) or secp256k1 (EVM verdicts).
        #[arg(long, value_enum, default_value = "ed25519")]
        scheme: trust::Scheme,
    },
    /// Sign a market snapshot's digest as its publisher.
    SignMarket {
        /// Secret key file (from `keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Market snapshot to sign.
        #[arg(long)]
        market: PathBuf,
        /// Where to write the signature.
        #[arg(long)]
        out: PathBuf,
    },
    /// Attest an account's commitment as its venue.
    Attest {
        /// Venue's secret key file (from `keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Venue name.
        #[arg(long)]
        venue: String,
        /// Account name at the venue.
        #[arg(long)]
        account: String,
        /// The account's commitment (hex, from `commit`).
        #[arg(long)]
        commitment: String,
        /// When the books were taken (RFC 3339).
        #[arg(long = "as-of")]
        as_of: String,
        /// Where to write the attestation.
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate (or check) the cached IPA parameters for the given sizes and print their hashes.
    Params {
        /// log2 of the circuit size; repeat for several.
        #[arg(long = "k", required = true)]
        ks: Vec<u32>,
    },
    /// Print a fresh random 32-byte nonce (hex) for a prover to bind into a proof; with
    /// --server, a nonce issued (and recorded) by a running `zkmargin serve`.
    Challenge {
        /// Base URL of a zkmargin service (e.g. http://127.0.0.1:8080).
        #[arg(long)]
        server: Option<String>,
    },
    /// Run the venue's verification service (HTTP/JSON, SPEC section 9).
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Database: an SQLite file (created when missing) or a postgres:// URL.
        #[arg(long)]
        db: String,
        /// Trust policy (publishers, venue keys, attestation age; nonce_ttl_seconds, max_k).
        #[arg(long)]
        policy: PathBuf,
        /// File holding the bearer token required by GET /v1/proofs/{id}, /v1/standing and the
        /// desk's reads (the page at /desk/ asks for it).
        #[arg(long = "token-file")]
        token_file: Option<PathBuf>,
        /// Concurrent verifications (default: the number of CPUs).
        #[arg(long)]
        workers: Option<usize>,
        /// Verifications that may wait for a worker; beyond that POST /v1/proofs gets 503.
        #[arg(long, default_value_t = 64)]
        queue: usize,
        /// The WebAssembly verifier for the desk page's in-browser verification (/desk/):
        /// target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm as built by `cargo
        /// build -p zkmargin-verifier --release --target wasm32-unknown-unknown
        /// --no-default-features`; without it that part of the page is disabled.
        #[arg(long = "desk-wasm")]
        desk_wasm: Option<PathBuf>,
        /// secp256k1 key (`keygen --scheme secp256k1`) that signs EIP-712 verdicts for the
        /// policy's evm registry (GET /v1/proofs/{id}/evm-verdict).
        #[arg(long = "evm-key")]
        evm_key: Option<PathBuf>,
    },
    /// Post a signed market snapshot to a zkmargin service (the publisher).
    Publish {
        /// Base URL of the service.
        #[arg(long)]
        server: String,
        /// Market snapshot.
        #[arg(long)]
        market: PathBuf,
        /// The publisher's signature (from `sign-market`); repeat for several publishers.
        #[arg(long = "market-sig", required = true)]
        market_sig: Vec<PathBuf>,
    },
    /// Post a proof bundle to a zkmargin service and print its verdict (exit 0 valid, 1
    /// invalid or refused, 2 bad input, 3 service unreachable).
    Submit {
        /// Base URL of the service.
        #[arg(long)]
        server: String,
        /// Proof bundle (attestations inside).
        #[arg(long)]
        proof: PathBuf,
    },
    /// Generate the embedded sample, prove and verify it, and say what happened.
    Demo,
    /// Verdicts for an EVM chain: fetch a service's signed verdict, print submit calldata,
    /// check offline what the registry contract would decide.
    Evm {
        #[command(subcommand)]
        action: EvmAction,
    },
    /// The risk publisher's commands.
    Market {
        #[command(subcommand)]
        action: MarketAction,
    },
}

#[derive(Subcommand)]
enum MarketAction {
    /// Build a market snapshot from instrument definitions, a scenario grid and rates.
    Build {
        /// Underlyings (spot, carry, vol surface) and instruments (instruments.json).
        #[arg(long)]
        instruments: PathBuf,
        /// Scenario grid (grid.json).
        #[arg(long)]
        grid: PathBuf,
        /// Loss factors, linear rates, short charges, assets (rates.json).
        #[arg(long)]
        rates: PathBuf,
        /// Snapshot time (RFC 3339); times to expiry are measured from it.
        #[arg(long = "as-of")]
        as_of: String,
        /// Snapshot id.
        #[arg(long)]
        id: String,
        /// P&L method: full (revalue every option) or greeks (delta, gamma, vega).
        #[arg(long, default_value = "full")]
        method: Method,
        /// Where to write the market snapshot.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum EvmAction {
    /// Fetch a service's EIP-712 verdict for a valid proof (GET /v1/proofs/{id}/evm-verdict).
    Verdict {
        /// Base URL of the service.
        #[arg(long)]
        server: String,
        /// The proof's id, as `submit` printed it.
        #[arg(long = "proof-id")]
        proof_id: String,
        /// Where to write the signed verdict (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the hex calldata of the registry's submit(verdict, signatures) for a wallet.
    Calldata {
        /// A signed verdict file (repeat: one per service; all of one verdict).
        #[arg(long = "verdict", required = true)]
        verdicts: Vec<PathBuf>,
    },
    /// Decide offline what the registry would (exit 0 accepted, 1 refused with the reason).
    Check {
        /// A signed verdict file (repeat: one per service; all of one verdict).
        #[arg(long = "verdict", required = true)]
        verdicts: Vec<PathBuf>,
        /// The registry's signers, comma-separated addresses.
        #[arg(long)]
        signers: String,
        /// The registry's quorum K.
        #[arg(long)]
        quorum: usize,
        /// The block time to decide at (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        /// The chain the registry is on (default: the verdicts' own).
        #[arg(long = "chain-id")]
        chain_id: Option<u64>,
        /// The registry's address (default: the verdicts' own).
        #[arg(long)]
        registry: Option<String>,
    },
}

fn run(cli: Cli) -> Result<(), CliError> {
    let progress = progress::Reporter::new(cli.quiet);
    match cli.command {
        Command::Margin { market, portfolio, json } => margin(&market, &portfolio, json),
        Command::Sample { profile, seed, out, class_offset, tiers } => write_sample(profile, seed, &out, class_offset.as_deref(), tiers),
        Command::Init { portfolio } => commands::init(&portfolio),
        Command::Commit { portfolio, json } => commands::commit(&portfolio, json),
        Command::Prove { market, portfolio, level, threshold, nonce, attestations, covenants, out } => {
            commands::prove(commands::ProveArgs {
                market: &market,
                portfolio: &portfolio,
                level,
                threshold: &threshold,
                nonce: nonce.as_deref(),
                attestations: &attestations,
                covenants: covenants.parse()?,
                out: &out,
                progress,
            })
        }
        Command::Verify {
            markets,
            proofs,
            json,
            level,
            level_at_least,
            accounts,
            threshold,
            nonce,
            covenants,
            max_k,
            policy,
            market_sigs,
            at,
        } => commands::verify(&commands::VerifyArgs {
            markets: &markets,
            proofs: &proofs,
            json,
            level,
            level_at_least,
            accounts: &accounts,
            threshold: threshold.as_deref(),
            nonce: nonce.as_deref(),
            covenants: covenants.parse()?,
            max_k,
            policy: policy.as_deref(),
            market_sigs: &market_sigs,
            at: at.as_deref(),
            progress,
        }),
        Command::Keygen { out, scheme } => trust::keygen(&out, scheme),
        Command::SignMarket { key, market, out } => trust::sign_market(&key, &market, &out),
        Command::Attest { key, venue, account, commitment, as_of, out } => {
            trust::attest(&key, &venue, &account, &commitment, &as_of, &out)
        }
        Command::Challenge { server: None } => commands::challenge(),
        Command::Challenge { server: Some(server) } => client::challenge(&server),
        Command::Serve { listen, db, policy, token_file, workers, queue, desk_wasm, evm_key } => {
            client::serve(client::ServeArgs { listen, db, policy, token_file, workers, queue, desk_wasm, evm_key })
        }
        Command::Publish { server, market, market_sig } => client::publish(&server, &market, &market_sig),
        Command::Submit { server, proof } => client::submit(&server, &proof),
        Command::Params { ks } => commands::params(&ks, progress.as_ref()),
        Command::Demo => commands::demo(progress),
        Command::Evm { action: EvmAction::Verdict { server, proof_id, out } } => evm::fetch(&server, &proof_id, &out),
        Command::Evm { action: EvmAction::Calldata { verdicts } } => evm::calldata(&verdicts),
        Command::Evm { action: EvmAction::Check { verdicts, signers, quorum, at, chain_id, registry } } => {
            evm::check(&evm::CheckArgs {
                verdicts: &verdicts,
                signers: &signers,
                quorum,
                at: at.as_deref(),
                chain_id,
                registry: registry.as_deref(),
            })
        }
        Command::Market { action: MarketAction::Build { instruments, grid, rates, as_of, id, method, out } } => {
            publish::market_build(&instruments, &grid, &rates, &as_of, &id, method, &out)
        }
    }
}

fn margin(market: &Path, portfolio: &Path, json: bool) -> Result<(), CliError> {
    let market = io::read_market(market)?;
    let portfolio = io::read_portfolio(portfolio, Some(&market))?;
    let figures = engine::compute(&market, &portfolio);
    if json {
        outln!("{}", report::to_json_text(&figures));
    } else {
        out!("{}", report::to_text(&figures));
    }
    Ok(())
}

/// Parses `--class-offset`: a rate in [0, 1] with at most 6 decimals.
fn class_offset_units(text: &str) -> Result<i128, CliError> {
    let between = "a rate between 0 and 1 (at most 6 decimals) is expected";
    let units = parse_units(text, DecimalKind::Rate).map_err(|e| CliError::Usage(format!("--class-offset {text:?}: {e}; {between}")))?;
    if units > RATE_SCALE {
        return Err(CliError::Usage(format!("--class-offset {text:?}: {between}")));
    }
    Ok(units)
}

fn write_sample(profile: Profile, seed: u64, out: &Path, class_offset: Option<&str>, tiers: bool) -> Result<(), CliError> {
    let class_offset = class_offset.map(class_offset_units).transpose()?;
    let options = sample::SampleOptions { class_offset: class_offset.map(|o| PerLevel { initial: o, maintenance: o }), tiers };
    std::fs::create_dir_all(out)
        .map_err(|e| CliError::Output(format!("cannot create {}: {e}", out.display())))?;
    let generated = sample::generate_with(profile, seed, &options);
    let market = out.join("market.json");
    let portfolio = out.join("portfolio.json");
    io::write_atomic(&market, generated.market_json.as_bytes())?;
    io::write_atomic(&portfolio, generated.portfolio_json.as_bytes())?;
    outln!(
        "wrote {} and {} ({} profile, seed {seed})",
        market.display(),
        portfolio.display(),
        profile.as_str()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zkmargin: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
