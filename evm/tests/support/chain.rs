//! An in-memory EVM chain (revm, Cancun rules as the contracts are compiled for) with the
//! committed contract artifacts (`contracts/out/*.json`): deploy, send transactions, read
//! views, measure gas. Shared by the evm crate's tests and the binary's end-to-end test
//! (`#[path]`-included there).
#![allow(dead_code)]

use revm::context::result::{ExecutionResult, Output};
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainBuilder, MainnetContext, MainnetEvm};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, Bytes, TxKind, U256};
use revm::{ExecuteCommitEvm, ExecuteEvm};

/// A committed artifact's creation code and runtime code.
pub struct Artifact {
    pub bytecode: Vec<u8>,
    pub deployed: Vec<u8>,
}

fn artifact(json: &str) -> Artifact {
    let v: serde_json::Value = serde_json::from_str(json).expect("artifact JSON");
    let code = |key: &str| hex::decode(v["evm"][key]["object"].as_str().expect("bytecode object")).expect("bytecode hex");
    Artifact { bytecode: code("bytecode"), deployed: code("deployedBytecode") }
}

/// `contracts/out/MarginVerdictRegistry.json`.
pub fn registry_artifact() -> Artifact {
    artifact(include_str!("../../../contracts/out/MarginVerdictRegistry.json"))
}

/// `contracts/out/ExampleLender.json`.
pub fn lender_artifact() -> Artifact {
    artifact(include_str!("../../../contracts/out/ExampleLender.json"))
}

/// What a transaction did.
#[derive(Debug)]
pub enum Outcome {
    /// Success: return data, gas used (the whole transaction), logs.
    Ok { output: Vec<u8>, gas: u64, logs: usize },
    /// Reverted: revert data, gas used.
    Reverted { data: Vec<u8>, gas: u64 },
    /// Halted (out of gas, invalid opcode, code too large, ...).
    Halted(String),
}

impl Outcome {
    /// The return data of a success; panics with the outcome otherwise.
    pub fn output(&self) -> &[u8] {
        match self {
            Outcome::Ok { output, .. } => output,
            other => panic!("expected success, got {other:?}"),
        }
    }
    /// The gas of a success.
    pub fn gas(&self) -> u64 {
        match self {
            Outcome::Ok { gas, .. } => *gas,
            other => panic!("expected success, got {other:?}"),
        }
    }
    /// The revert data; panics on success.
    pub fn revert_data(&self) -> &[u8] {
        match self {
            Outcome::Reverted { data, .. } => data,
            other => panic!("expected a revert, got {other:?}"),
        }
    }
}

/// A chain with one block whose time the test sets.
pub struct Chain {
    evm: MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>,
    nonces: std::collections::HashMap<Address, u64>,
}

impl Chain {
    /// A fresh chain with this id, at Unix time `timestamp`.
    pub fn new(chain_id: u64, timestamp: u64) -> Chain {
        let ctx: MainnetContext<CacheDB<EmptyDB>> = Context::new(CacheDB::new(EmptyDB::default()), SpecId::CANCUN);
        let ctx = ctx.modify_cfg_chained(|cfg| cfg.chain_id = chain_id).modify_block_chained(|b| {
            b.timestamp = U256::from(timestamp);
            b.basefee = 0;
        });
        Chain { evm: ctx.build_mainnet(), nonces: Default::default() }
    }

    /// Sets the block time (Unix seconds).
    pub fn set_time(&mut self, timestamp: u64) {
        self.evm.ctx.block.timestamp = U256::from(timestamp);
    }

    fn tx(&mut self, from: Address, kind: TxKind, data: Vec<u8>) -> TxEnv {
        let nonce = self.nonces.entry(from).or_default();
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(Bytes::from(data))
            .gas_limit(30_000_000)
            .gas_price(0)
            .nonce(*nonce)
            .chain_id(Some(self.evm.ctx.cfg.chain_id))
            .build()
            .expect("a transaction");
        *nonce += 1;
        tx
    }

    fn convert(result: &ExecutionResult) -> Outcome {
        let gas = result.gas_used();
        match result {
            ExecutionResult::Success { output, logs, .. } => {
                let output = match output {
                    Output::Call(b) => b.to_vec(),
                    Output::Create(b, _) => b.to_vec(),
                };
                Outcome::Ok { output, gas, logs: logs.len() }
            }
            ExecutionResult::Revert { output, .. } => Outcome::Reverted { data: output.to_vec(), gas },
            ExecutionResult::Halt { reason, .. } => Outcome::Halted(format!("{reason:?}")),
        }
    }

    /// Deploys `initcode` (creation code ‖ ABI-encoded constructor arguments) from `from`.
    pub fn deploy(&mut self, from: Address, initcode: Vec<u8>) -> Address {
        let tx = self.tx(from, TxKind::Create, initcode);
        let result = self.evm.transact_commit(tx).expect("the EVM runs");
        match result {
            ExecutionResult::Success { output: Output::Create(_, Some(address)), .. } => address,
            other => panic!("deployment failed: {other:?}"),
        }
    }

    /// Sends a transaction (committed when it succeeds).
    pub fn send(&mut self, from: Address, to: Address, data: Vec<u8>) -> Outcome {
        let tx = self.tx(from, TxKind::Call(to), data);
        let result = self.evm.transact_commit(tx).expect("the EVM runs");
        Self::convert(&result)
    }

    /// Sends a transaction and returns its logs (it must succeed).
    pub fn send_logs(&mut self, from: Address, to: Address, data: Vec<u8>) -> Vec<revm::primitives::Log> {
        let tx = self.tx(from, TxKind::Call(to), data);
        match self.evm.transact_commit(tx).expect("the EVM runs") {
            ExecutionResult::Success { logs, .. } => logs,
            other => panic!("expected success, got {other:?}"),
        }
    }

    /// Sends a contract creation and returns what it did (a deployment that may fail).
    pub fn send_create(&mut self, from: Address, initcode: Vec<u8>) -> Outcome {
        let tx = self.tx(from, TxKind::Create, initcode);
        let result = self.evm.transact_commit(tx).expect("the EVM runs");
        Self::convert(&result)
    }

    /// Runs a call without committing it (a view, or a gas measurement).
    pub fn call(&mut self, from: Address, to: Address, data: Vec<u8>) -> Outcome {
        let nonce = self.nonces.get(&from).copied().unwrap_or(0);
        let tx = self.tx(from, TxKind::Call(to), data);
        self.nonces.insert(from, nonce);
        let result = self.evm.transact(tx).expect("the EVM runs");
        Self::convert(&result.result)
    }

    /// The runtime code at `address`.
    pub fn code(&mut self, address: Address) -> Vec<u8> {
        use revm::Database;
        let info = self.evm.ctx.journaled_state.database.basic(address).expect("db").expect("an account");
        info.code.map(|c| c.original_bytes().to_vec()).unwrap_or_default()
    }
}

/// The intrinsic gas of a Cancun call transaction with `data`: 21,000 plus 16 per non-zero
/// and 4 per zero calldata byte. A transaction's gas minus this is what its execution cost.
pub fn intrinsic_gas(data: &[u8]) -> u64 {
    21_000 + data.iter().map(|&b| if b == 0 { 4 } else { 16 }).sum::<u64>()
}
