#!/usr/bin/env bash
# Fuzzes the corpus parser and the checkpoint loader with cargo fuzz (libFuzzer).
# Usage: scripts/fuzz.sh [seconds per target, default 600] [target ...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh --fuzz
seconds=${1:-600}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(corpus_parser checkpoint_loader)

# Seeds: real poems and a real (tiny) checkpoint.
mkdir -p fuzz/corpus/corpus_parser fuzz/corpus/checkpoint_loader
head -c 4000 "$SHIGE_DATA/poems.txt" >fuzz/corpus/corpus_parser/poems-head.txt
head -c 4000 "$SHIGE_DATA/tangshi.txt" >fuzz/corpus/corpus_parser/tangshi-head.txt
if [ ! -f fuzz/corpus/checkpoint_loader/tiny.ckpt ]; then
  printf '静夜思:床前明月光，疑是地上霜。\n登鹳雀楼:白日依山尽，黄河入海流。\n' >"$SHIGE_CACHE/fuzz-seed.txt"
  cargo run --release -q -p shige-cli -- train --corpus "$SHIGE_CACHE/fuzz-seed.txt" --embedding 2 \
    --hidden 2 --min-char-freq 1 --epochs 1 --out fuzz/corpus/checkpoint_loader/tiny.ckpt >/dev/null 2>&1
fi

# cargo fuzz passes nightly flags (sanitizers): use a nightly toolchain if rustup has one,
# else let stable accept them with RUSTC_BOOTSTRAP.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then toolchain=(+nightly); else export RUSTC_BOOTSTRAP=1; fi

export CARGO_TARGET_DIR=$SHIGE_CACHE/fuzz-target
for t in "${targets[@]}"; do
  say "fuzzing $t for $seconds s"
  cargo "${toolchain[@]}" fuzz run "$t" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096
done
