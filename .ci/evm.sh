#!/usr/bin/env bash
# CI for the on-chain contracts (issue 21): install the pinned solc-js and OpenZeppelin
# (contracts/package-lock.json; the compiler ships inside the npm package), recompile, and
# require the committed artifacts under contracts/out/ byte for byte. The contracts' tests
# (revm, against those artifacts) run in the workspace's `cargo test`. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
if ! command -v npm >/dev/null 2>&1; then
  echo "evm: npm is required to recompile the contracts" >&2
  exit 1
fi
npm ci --no-audit --no-fund
node build.mjs --check
echo "evm: ok"
