#!/usr/bin/env bash
# The page's default Transformer (issue 30; not a test): a short sweep on poems.txt with the page's
# recipe (lr 0.002, output dropout 0.3, batch 32, sequence cap 96, 4 heads), MINUTES each, and the
# page's default GRU beside it. Prints the held-out loss of each at the end (BENCHMARKS.md).
# Usage: bash bench/transformer_sweep.sh [MINUTES]   (SHIGE_DATA: the folder with poems.txt)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
minutes=${1:-3}
shige=$CARGO_TARGET_DIR/release/shige
out=$(mktemp -d "${TMPDIR:-/tmp}/shige-sweep.XXXXXX")
trap 'rm -rf "$out"' EXIT
run() {
  local name=$1; shift
  "$shige" train --corpus "$SHIGE_DATA/poems.txt" "$@" --output-dropout 0.3 --batch-size 32 --max-seq-len 96 \
    --minutes "$minutes" --eval-every 100000 --out "$out/$name.ckpt" --force 2>&1 | tail -1 | sed "s/^/$name: /"
}
for cfg in "128 2 0.002" "128 4 0.002" "96 2 0.002" "192 2 0.002" "128 2 0.001"; do
  set -- $cfg
  run "transformer-e$1-l$2-lr$3" --cell transformer --embedding "$1" --layers "$2" --heads 4 --lr "$3"
done
run gru --cell gru --embedding 128 --hidden 256 --lr 0.002
