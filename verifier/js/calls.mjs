// The calling convention of zkmargin's WebAssembly verifier (verifier/src/wasm.rs): plain
// exports over the module's linear memory. Shared by the Node harness (verify.mjs,
// phases.mjs) and the credit desk's Web Worker (service/desk/worker.js; `zkmargin serve`
// serves this file at /desk/calls.mjs). Uses nothing but WebAssembly and TextEncoder.

const bytesOf = (x) => (typeof x === 'string' ? new TextEncoder().encode(x) : x);

/** Copies bytes (or a string's UTF-8) into the module's memory; returns [ptr, len],
 *  to be freed with `wasm.dealloc(ptr, len)`. */
export function put(wasm, data) {
  const bytes = bytesOf(data);
  const ptr = wasm.alloc(bytes.length);
  new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
  return [ptr, bytes.length];
}

/** The module's last result, parsed: a verdict, `{"k"}`, or `{"error"}`. */
export function result(wasm) {
  const bytes = new Uint8Array(wasm.memory.buffer, wasm.result_ptr(), wasm.result_len());
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Hands the module the bytes of a parameter file (checked there against its pinned
 *  SHA-256); returns its k, or throws with the module's reason. */
export function addParams(wasm, bytes) {
  const [ptr, len] = put(wasm, bytes);
  try {
    const k = wasm.add_params(ptr, len);
    if (k < 0) throw new Error(result(wasm).error);
    return k;
  } finally {
    wasm.dealloc(ptr, len);
  }
}

/** Verifies one bundle against one market (each JSON text or bytes) with the lender's
 *  expectations (an object); returns `{rc, out}`: rc 1 valid, 0 invalid, 2 bad input,
 *  3 internal error; out the verdict or `{"error"}`. */
export function verify(wasm, market, bundle, expect = {}) {
  const buffers = [put(wasm, market), put(wasm, bundle), put(wasm, JSON.stringify(expect))];
  try {
    const rc = wasm.verify(...buffers.flat());
    return { rc, out: result(wasm) };
  } finally {
    for (const [ptr, len] of buffers) wasm.dealloc(ptr, len);
  }
}
