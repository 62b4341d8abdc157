// zkmargin credit desk: the Web Worker (an ES module) that runs the WebAssembly verifier,
// through the calling convention the Node harness uses too (calls.mjs, served from
// verifier/js/calls.mjs).
//
// In:  {id, market, bundle, expect}  (market and bundle as JSON text, expect an object)
// Out: {id, rc, out, ms}  rc 1 valid, 0 invalid, 2 bad input, 3 internal error; out the
//      verifier's JSON result; ms the time taken, parameters included; or {id, error}.
//
// It fetches only this origin's verifier.wasm and params/K (the public IPA parameters for
// the bundle's k, checked by the module against their pinned SHA-256). The bundle and
// the market stay in this browser.
import { addParams, verify } from './calls.mjs';

let wasm = null;
const paramsAdded = new Set();

async function instance() {
  if (!wasm) {
    const response = await fetch('verifier.wasm');
    if (!response.ok) throw new Error(`verifier.wasm: ${response.status} (is the service started with --desk-wasm?)`);
    const { instance: made } = await WebAssembly.instantiateStreaming(response, {});
    wasm = made.exports;
    paramsAdded.clear();
  }
  return wasm;
}

/** Hands the module the parameters for k once (it generates small ones itself otherwise). */
async function params(k) {
  if (!Number.isInteger(k) || k < 1 || paramsAdded.has(k)) return;
  const response = await fetch(`params/${k}`);
  if (!response.ok) return;
  addParams(wasm, new Uint8Array(await response.arrayBuffer()));
  paramsAdded.add(k);
}

self.onmessage = async (event) => {
  const { id, market, bundle, expect } = event.data;
  const started = performance.now();
  try {
    await instance();
    let k = null;
    try { k = JSON.parse(bundle)?.circuit?.k; } catch { /* the module says why */ }
    await params(k);
    const { rc, out } = verify(wasm, market, bundle, expect);
    self.postMessage({ id, rc, out, ms: performance.now() - started });
  } catch (error) {
    // A trap leaves the module's state unknown: start afresh next time.
    wasm = null;
    self.postMessage({ id, error: String(error?.message ?? error), ms: performance.now() - started });
  }
};
