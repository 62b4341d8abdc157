#!/usr/bin/env node
// zkmargin's WebAssembly verifier from plain Node (20+, no npm packages).
//
//   node verifier/js/verify.mjs MARKET BUNDLE [--level L] [--level-at-least] [--threshold T]
//        [--nonce HEX] [--account VENUE/ACCOUNT ...] [--max-k K]
//        [--min-ratio R] [--min-equity E] [--max-leverage L] [--json]
//
// Prints the verdict; exits 0 valid, 1 invalid, 2 bad input (unreadable file, bad
// argument, missing .wasm), 3 internal error.
//
// The module is target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm (build it
// with `cargo build -p zkmargin-verifier --release --target wasm32-unknown-unknown
// --no-default-features`), or $ZKMARGIN_WASM. The IPA parameters for the bundle's k are
// read from $ZKMARGIN_PARAMS or params/ when cached there (the module checks them against
// their pinned SHA-256); otherwise the module generates them itself for small k.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { addParams, verify } from './calls.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function fail(code, message) {
  process.stderr.write(`verify.mjs: ${message}\n`);
  process.exit(code);
}

const usage = 'usage: node verify.mjs MARKET BUNDLE [--level L] [--level-at-least] [--threshold T] ' +
  '[--nonce HEX] [--account VENUE/ACCOUNT] [--max-k K] [--min-ratio R] [--min-equity E] [--max-leverage L] [--json]';
const positional = [];
const expect = {};
let json = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const value = () => {
    if (i + 1 >= argv.length) fail(2, `${arg} needs a value\n${usage}`);
    return argv[++i];
  };
  switch (arg) {
    case '--level': expect.level = value(); break;
    case '--level-at-least': expect.level_at_least = true; break;
    case '--threshold': expect.threshold = value(); break;
    case '--nonce': expect.nonce = value(); break;
    case '--account': (expect.accounts ??= []).push(value()); break;
    case '--netting': expect.netting = value(); break;
    case '--min-ratio': expect.min_ratio = value(); break;
    case '--min-equity': expect.min_equity = value(); break;
    case '--max-leverage': expect.max_leverage = value(); break;
    case '--max-k': {
      const k = Number(value());
      if (!Number.isInteger(k) || k < 1) fail(2, `--max-k: not a positive integer\n${usage}`);
      expect.max_k = k;
      break;
    }
    case '--json': json = true; break;
    case '-h': case '--help': process.stdout.write(usage + '\n'); process.exit(0);
    default:
      if (arg.startsWith('--')) fail(2, `unknown option ${arg}\n${usage}`);
      positional.push(arg);
  }
}
if (positional.length !== 2) fail(2, usage);
const [marketPath, bundlePath] = positional;

function read(file) {
  try { return readFileSync(file); } catch (e) { fail(2, `${file}: cannot read file: ${e.message}`); }
}
const market = read(marketPath);
const bundle = read(bundlePath);

const wasmPath = process.env.ZKMARGIN_WASM ||
  path.join(root, 'target', 'wasm32-unknown-unknown', 'release', 'zkmargin_verifier.wasm');
if (!existsSync(wasmPath)) fail(2, `${wasmPath} is missing: build the WebAssembly verifier first`);

const started = process.hrtime.bigint();
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const wasm = instance.exports;
// Hand the module the cached parameters for the bundle's k, if there are any.
let k = null;
try { k = JSON.parse(bundle.toString('utf8'))?.circuit?.k; } catch { /* the module says why */ }
if (Number.isInteger(k) && k >= 1 && k <= (expect.max_k ?? 16)) {
  const dir = process.env.ZKMARGIN_PARAMS || path.join(root, 'params');
  const file = path.join(dir, `ipa-pasta-k${String(k).padStart(2, '0')}.bin`);
  if (existsSync(file)) {
    try {
      addParams(wasm, readFileSync(file));
    } catch (e) {
      process.stderr.write(`verify.mjs: ${file}: ${e.message}; generating instead\n`);
    }
  }
}

let rc, out;
try {
  ({ rc, out } = verify(wasm, market, bundle, expect));
} catch (err) {
  fail(3, `internal error in the WebAssembly verifier: ${err.message}`);
}
const ms = Number(process.hrtime.bigint() - started) / 1e6;
if (rc === 2 || rc === 3) fail(rc, out.error);
if (json) {
  process.stdout.write(JSON.stringify({ file: bundlePath, ...out }) + '\n');
} else if (out.valid) {
  process.stdout.write(`${bundlePath}: valid: market ${JSON.stringify(out.market)}: every group meets its ${out.level} ` +
    `margin and the total excess is at least ${out.threshold}; accounts: ` +
    `${out.accounts.map((a) => `${a.venue}/${a.account}`).join(', ')}\n`);
} else {
  process.stdout.write(`${bundlePath}: invalid: ${out.reason}\n`);
}
process.stderr.write(`verify.mjs: checked in ${ms.toFixed(0)} ms (WebAssembly)\n`);
process.exit(out.valid ? 0 : 1);
