#!/usr/bin/env bash
# The classroom's numbers (issue 9): a 30-minute CLI run of each cell on poems.txt at about
# equal parameter counts, then the held-out loss curve, chars/s and samples of each.
# Not part of the tests (90 minutes). Usage: bash bench/cells.sh [minutes per cell, default 30]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
minutes=${1:-30}
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
out=$SHIGE_CACHE/cells
mkdir -p "$out"
# Hidden sizes giving ~2.61 M parameters each at the poems.txt vocabulary (6,011 tokens): the
# output layer (hidden x vocabulary) dominates, so the cells differ only a little.
for spec in gru:256 lstm:244 rnn:286; do
  cell=${spec%%:*} hidden=${spec##*:}
  say "$cell, hidden $hidden, $minutes minutes"
  "$shige" train --corpus "$SHIGE_DATA/poems.txt" --cell "$cell" --hidden "$hidden" --minutes "$minutes" \
    --out "$out/$cell.ckpt" --log "$out/$cell.csv" --eval-every 1000 --save-every 1000 --force 2>&1 | tail -n 3
  rm -f "$out/$cell.log.csv"
done
for cell in gru lstm rnn; do
  say "$cell: samples"
  "$shige" generate --model "$out/$cell.ckpt" --start 日红山夜湖海月
  "$shige" generate --model "$out/$cell.ckpt" --start 日红山夜湖海月 --form wujue
done
