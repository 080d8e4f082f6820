#!/usr/bin/env bash
# Trains the starter model a first visit opens (issue 10): the committed one's recipe (the CLI's
# defaults when it was trained: constant 2e-3, no dropout; pinned, since the defaults changed) on the built-in
# corpus for a fixed time on this machine, then an int8 copy (no optimizer state) for the site.
# Not part of set-up or the tests: it takes as long as --minutes says. The result is committed
# as assets/starter/starter.ckpt; its figures go in assets/starter/README.md and BENCHMARKS.md.
# Usage: bash scripts/train-starter.sh [MINUTES]   (default 50)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
minutes=${1:-50}
corpus=assets/generated/default-corpus.txt
[ -s "$corpus" ] || { echo "no built-in corpus: run scripts/setup.sh first" >&2; exit 1; }
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
work=$SHIGE_CACHE/starter
mkdir -p "$work"
rm -f "$work/starter.csv"  # --log appends
say "starter: constant 2e-3, no dropout, on the built-in corpus for $minutes minutes"
"$shige" train --corpus "$corpus" --minutes "$minutes" --lr 2e-3 --schedule constant --warmup-steps 0 --output-dropout 0 --out "$work/starter-full.ckpt" \
  --log "$work/starter.csv" --eval-every 1000 --save-every 1000 --force
"$shige" compact --model "$work/starter-full.ckpt" --weights int8 --out assets/starter/starter.ckpt
ls -l assets/starter/starter.ckpt
say "held-out figures of the int8 copy (the corpus's validation split, as the page shows them)"
"$shige" eval --model assets/starter/starter.ckpt --corpus "$corpus"
