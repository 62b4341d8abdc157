#!/usr/bin/env bash
# CI for the WebAssembly verifier (issue 8): add the target, build the module, check its
# size and that it imports nothing, and run the plain-Node harness on a valid and on a
# tampered bundle of the example. Called from .ci/run; needs cargo, rustup and node.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "wasm: node is required for the WebAssembly harness" >&2
  exit 1
fi
node --version
rustup target add wasm32-unknown-unknown

cargo build -p zkmargin-verifier --release --locked --target wasm32-unknown-unknown --no-default-features
target="${CARGO_TARGET_DIR:-target}"
wasm="$target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm"
export ZKMARGIN_WASM="$wasm"
size=$(stat -c %s "$wasm")
echo "wasm: $wasm is $size bytes"
if [ "$size" -gt 4194304 ]; then
  echo "wasm: the module is over 4 MB" >&2
  exit 1
fi
node -e '
  const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
  const imports = WebAssembly.Module.imports(m);
  if (imports.length) { console.error("wasm: unexpected imports", imports); process.exit(1); }
  const names = WebAssembly.Module.exports(m).map((e) => e.name);
  for (const n of ["verify", "alloc", "dealloc", "add_params", "result_ptr", "result_len", "memory"])
    if (!names.includes(n)) { console.error("wasm: missing export", n); process.exit(1); }
' "$wasm"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ZKMARGIN_PARAMS="${ZKMARGIN_PARAMS:-$PWD/params}"
cargo build --release --locked --bin zkmargin
zk="$target/release/zkmargin"
"$zk" prove --market examples/market.json --portfolio examples/portfolio.json \
  --level initial --threshold 1000 --out "$work/proof.json"

# A valid bundle: exit 0, with and without the lender's expectations.
node verifier/js/verify.mjs examples/market.json "$work/proof.json"
node verifier/js/verify.mjs examples/market.json "$work/proof.json" --level initial --threshold 1000

# A tampered bundle (one proof byte flipped; then a raised threshold): exit 1.
node -e '
  const fs = require("fs");
  const b = JSON.parse(fs.readFileSync(process.argv[1]));
  const bytes = Buffer.from(b.proof, "hex"); bytes[bytes.length >> 1] ^= 1; b.proof = bytes.toString("hex");
  fs.writeFileSync(process.argv[2], JSON.stringify(b));
  const c = JSON.parse(fs.readFileSync(process.argv[1])); c.statement.threshold = "1000.000001";
  fs.writeFileSync(process.argv[3], JSON.stringify(c));
' "$work/proof.json" "$work/tampered.json" "$work/raised.json"
for bad in tampered raised; do
  set +e
  node verifier/js/verify.mjs examples/market.json "$work/$bad.json"
  rc=$?
  set -e
  if [ "$rc" -ne 1 ]; then
    echo "wasm: the $bad bundle gave exit $rc, expected 1" >&2
    exit 1
  fi
done
# Asking more than is stated: exit 1.
set +e
node verifier/js/verify.mjs examples/market.json "$work/proof.json" --level maintenance
rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "wasm: a level mismatch gave exit $rc, expected 1" >&2; exit 1; }
echo "wasm: ok"
