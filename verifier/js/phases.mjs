#!/usr/bin/env node
// The WebAssembly verifier timed phase by phase (issue 8), beside the native baseline
// `cargo run -p zkmargin-verifier --release --no-default-features --example phases`:
// the same calls in the same order.
//
//   node verifier/js/phases.mjs MARKET BUNDLE PARAMS_FILE [REPEATS]
//
// The module is $ZKMARGIN_WASM or target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { addParams, put, result } from './calls.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const [marketPath, bundlePath, paramsPath, repeatsArg] = process.argv.slice(2);
if (!paramsPath) {
  process.stderr.write('usage: node phases.mjs MARKET BUNDLE PARAMS_FILE [REPEATS]\n');
  process.exit(2);
}
const repeats = Number(repeatsArg ?? 5);
const wasmPath = process.env.ZKMARGIN_WASM ||
  path.join(root, 'target', 'wasm32-unknown-unknown', 'release', 'zkmargin_verifier.wasm');
const now = () => Number(process.hrtime.bigint()) / 1e6;

let t = now();
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const instantiateMs = now() - t;
const wasm = instance.exports;
const market = readFileSync(marketPath);
const bundle = readFileSync(bundlePath);
const params = readFileSync(paramsPath);

t = now();
addParams(wasm, params);
const paramsMs = now() - t;

const m = put(wasm, market);
const b = put(wasm, bundle);
const e = put(wasm, '{}');
function check() {
  const t0 = now();
  const rc = wasm.verify(m[0], m[1], b[0], b[1], e[0], e[1]);
  const ms = now() - t0;
  if (rc !== 1) throw new Error(`not valid: rc ${rc}: ${JSON.stringify(result(wasm))}`);
  return ms;
}
const firstMs = check();
const again = Array.from({ length: repeats }, check).sort((x, y) => x - y);
const cached = again[again.length >> 1];
const f = (x) => x.toFixed(1).padStart(9);
process.stdout.write(`wasm (Node ${process.version}, ${wasmPath})\n`);
process.stdout.write(`  instantiate           ${f(instantiateMs)} ms\n`);
process.stdout.write(`  params in (read+hash) ${f(paramsMs)} ms\n`);
process.stdout.write(`  first check           ${f(firstMs)} ms   (market parse + key rebuild + verify)\n`);
process.stdout.write(`  further check, median ${f(cached)} ms   (key cached; ${repeats} runs)\n`);
process.stdout.write(`  key rebuild (diff)    ${f(firstMs - cached)} ms\n`);
process.stdout.write(`  total first           ${f(instantiateMs + paramsMs + firstMs)} ms   (instantiate + params + first check)\n`);
