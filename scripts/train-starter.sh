#!/usr/bin/env bash
# Trains the starter model a first visit opens (issues 10 and 23) in parts that may span sessions:
#   constant MINUTES  GRU 384, output dropout 0.3, constant 2e-3 (a resumed part continues exactly:
#                     batches and dropout masks follow the seed and the step), on the built-in
#                     corpus's training split plus every second Song poem of the files that are
#                     neither reserved nor held out. Resumes the run when there is one.
#   anneal MINUTES    from the constant part's last checkpoint, the rate falls linearly to 5 %
#                     (the constant part's checkpoint is kept, so it can go on later).
#   finish            the int8 copy the site ships (no optimizer state), its figures (Tang split,
#                     the Song held-out set, 格律, copies, samples) and its training curve.
# The work lives in $SHIGE_CACHE/starter. Not part of set-up or the tests; the result is
# committed as assets/starter/starter.ckpt and starter-curve.json, its figures go in
# assets/starter/README.md and BENCHMARKS.md.
# Usage: bash scripts/train-starter.sh constant|anneal MINUTES | finish
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
part=${1:-}
corpus=$ROOT/assets/generated/default-corpus.txt
[ -s "$corpus" ] || { echo "no built-in corpus: run scripts/setup.sh first" >&2; exit 1; }
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
work=$SHIGE_CACHE/starter
mkdir -p "$work"
poems=$ROOT/assets/node_modules/chinese-poetry/dist/quantangshi
# Song poems (全宋诗): every second poem of the training files, and the held-out files (every
# 20th); the reserved files poet.song.230000–254000 are never read (crates/prepare).
[ -s "$work/song-train-half.txt" ] || "$shige" prepare --from "$poems" --era song --part train --every 2 --out "$work/song-train-half.txt"
[ -s "$work/song-heldout.txt" ] || "$shige" prepare --from "$poems" --era song --part held-out --out "$work/song-heldout.txt"
common=(--corpus "$corpus" --extra-train "$work/song-train-half.txt" --eval-every 1000 --save-every 500)
case $part in
  constant)
    if [ -s "$work/long.ckpt" ]; then
      say "starter: constant 2e-3, resumed at $(tail -n 1 "$work/long.csv" | cut -d, -f1) steps, for $2 minutes"
      "$shige" train "${common[@]}" --minutes "$2" --resume "$work/long.ckpt" --lr 2e-3 --schedule constant --warmup-steps 0 \
        --out "$work/long.ckpt" --log "$work/long.csv"
    else
      say "starter: GRU 384, output dropout 0.3, constant 2e-3, for $2 minutes"
      "$shige" train "${common[@]}" --minutes "$2" --hidden 384 --embedding 128 --output-dropout 0.3 --min-char-freq 5 \
        --lr 2e-3 --schedule constant --warmup-steps 0 --out "$work/long.ckpt" --log "$work/long.csv"
    fi ;;
  anneal)
    say "starter: from step $(tail -n 1 "$work/long.csv" | cut -d, -f1), the rate falling linearly to 5 % over $2 minutes"
    rm -f "$work/anneal.csv"
    "$shige" train "${common[@]}" --minutes "$2" --resume "$work/long.ckpt" --lr 2e-3 --schedule linear --lr-final-ratio 0.05 \
      --warmup-steps 0 --decay-from 0 --out "$work/annealed.ckpt" --log "$work/anneal.csv" ;;
  finish)
    "$shige" compact --model "$work/annealed.ckpt" --weights int8 --out assets/starter/starter.ckpt
    ls -l assets/starter/starter.ckpt
    "$shige" eval --model assets/starter/starter.ckpt --corpus "$corpus" --samples 0 --json >"$work/eval.json"
    cat "$work/long.csv" "$work/anneal.csv" >"$work/curve.csv"
    node scripts/starter-curve.mjs "$work/curve.csv" "$work/eval.json" assets/starter/starter-curve.json
    say "the Tang split (the corpus's validation split, as the page shows it), with 200 samples per figure"
    "$shige" eval --model assets/starter/starter.ckpt --corpus "$corpus" --samples 200
    say "the Song held-out set ($(wc -l <"$work/song-heldout.txt") poems of files never trained on)"
    "$shige" eval --model assets/starter/starter.ckpt --corpus "$work/song-heldout.txt" --whole --samples 0
    say "samples"
    "$shige" generate --model assets/starter/starter.ckpt --start 日红山夜湖海月 --seed 1
    "$shige" generate --model assets/starter/starter.ckpt --start 日红山夜湖海月 --seed 1 --form qijue --meter ;;
  *) echo "usage: bash scripts/train-starter.sh constant|anneal MINUTES | finish" >&2; exit 2 ;;
esac
