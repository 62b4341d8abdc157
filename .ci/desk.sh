#!/usr/bin/env bash
# CI for the credit desk's page (issue 23): the page in a real browser. Installs
# Chromium from the distribution's packages when /usr/bin/chromium is missing (never a
# downloaded browser) and puppeteer-core from npm (service/tests/desk/package-lock.json),
# builds the WebAssembly verifier as .ci/wasm.sh does and the binary (cargo reuses the
# builds), and runs service/tests/desk/desk.mjs: `zkmargin serve` on loopback, a published
# market, a valid and an invalid bundle, the page driven in headless Chromium. Screenshots
# of each screen are left in $CARGO_TARGET_DIR/desk-screenshots/ (target/ by default).
# Called from .ci/run; needs cargo, rustup, node and npm (and apt-get when Chromium is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "desk: node and npm are required for the browser test" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version

rustup target add wasm32-unknown-unknown
cargo build -p zkmargin-verifier --release --locked --target wasm32-unknown-unknown --no-default-features
cargo build --release --locked --bin zkmargin
target="${CARGO_TARGET_DIR:-$PWD/target}"
export ZKMARGIN_BIN="$target/release/zkmargin"
export ZKMARGIN_WASM="$target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm"
export ZKMARGIN_PARAMS="${ZKMARGIN_PARAMS:-$PWD/params}"
export DESK_SCREENSHOTS="$target/desk-screenshots"
export CHROMIUM=/usr/bin/chromium
rm -rf "$DESK_SCREENSHOTS"

(cd service/tests/desk && npm ci --no-audit --no-fund --loglevel=error)
node --test --test-reporter=spec service/tests/desk/desk.mjs

count=$(find "$DESK_SCREENSHOTS" -name '*.png' | wc -l)
echo "desk: ok in $(( $(date +%s) - started )) s; $count screenshots in $DESK_SCREENSHOTS"
