#!/usr/bin/env bash
# The README's publisher walk-through ("Publishing a market"): two publishers build the
# example snapshot on their own, get the same bytes, and sign the same digest; the
# Deribit-style grid and the greeks method build too, and so does the risk-class example
# (spread and historical joint scenarios, class offset, tiered haircuts), twice, to the
# same bytes. ZKMARGIN_BIN overrides the binary.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
zk() {
  if [ -n "${ZKMARGIN_BIN:-}" ]; then "$ZKMARGIN_BIN" "$@"; else cargo run --release --locked --quiet -- "$@"; fi
}
build() {
  zk market build --instruments examples/publisher/instruments.json --grid "examples/publisher/$1" \
    --rates "examples/publisher/${4:-rates.json}" --as-of 2026-11-25T08:00:00Z --id desk-2026-11-25T08:00Z \
    --method "$2" --out "$3"
}
for who in a b; do
  build grid.json full "$tmp/market-$who.json"
  zk keygen --out "$tmp/desk-$who" >/dev/null
  zk sign-market --key "$tmp/desk-$who.key" --market "$tmp/market-$who.json" --out "$tmp/desk-$who.sig"
done
cmp "$tmp/market-a.json" "$tmp/market-b.json"
digest() { grep -o '"digest": "[0-9a-f]*"' "$1"; }
[ "$(digest "$tmp/desk-a.sig")" = "$(digest "$tmp/desk-b.sig")" ]
build grid-deribit.json full "$tmp/deribit.json"
build grid-deribit.json greeks "$tmp/deribit-greeks.json"
build grid-classes.json full "$tmp/classes-a.json" rates-classes.json
build grid-classes.json full "$tmp/classes-b.json" rates-classes.json
cmp "$tmp/classes-a.json" "$tmp/classes-b.json"
build grid-history.json full "$tmp/history.json"
echo "publisher walk-through: two independent builds are byte-identical and co-signed"
