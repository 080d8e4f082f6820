#!/usr/bin/env bash
# Builds the wasm crate and its JS bindings into dist/pkg, as wasm-pack.toml says; with
# --threads, the threaded CPU build into dist/pkg-threads ([threads] in wasm-pack.toml); with
# --threads --relaxed, that build with relaxed SIMD's fused multiply-add into dist/pkg-threads-relaxed.
# Usage: scripts/build-wasm.sh [--optimize | --optimized-if-cached] [--threads [--relaxed]]
#   --optimize runs wasm-opt (minutes; the result is cached by module and arguments);
#   --optimized-if-cached takes wasm-opt's cached result where there is one, else leaves the module as built.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
optimize=0 threads=0 relaxed=0 cached_only=0
for arg in "$@"; do
  case $arg in
    --optimize) optimize=1 ;;
    --optimized-if-cached) optimize=1 cached_only=1 ;;
    --threads) threads=1 ;;
    --relaxed) relaxed=1 ;;
    *) echo "usage: scripts/build-wasm.sh [--optimize | --optimized-if-cached] [--threads [--relaxed]]" >&2; exit 2 ;;
  esac
done
[ $relaxed = 0 ] || [ $threads = 1 ] || { echo "--relaxed is a variant of the --threads build" >&2; exit 2; }
lock_builds

target=$(wasm_setting build target)
profile=$(wasm_setting build profile)
crate_dir=$(wasm_setting build crate)
crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$crate_dir/Cargo.toml" | head -1)
target_var=$(echo "$target" | tr 'a-z-' 'A-Z_')
route=$(cat "$SHIGE_CACHE/wasm-route" 2>/dev/null || echo rustup)
if [ $threads = 1 ]; then
  route=$(cat "$SHIGE_CACHE/wasm-threads-route" 2>/dev/null || echo rustup)
  section=threads
  target_dir=$SHIGE_CACHE/wasm-threads-target
  features=(--no-default-features --features "$(wasm_setting threads "$([ $relaxed = 1 ] && echo relaxed_)features")")
else
  section=build
  target_dir=$WASM_TARGET_DIR
  features=()
fi
# RUSTFLAGS must stay identical between builds, or everything rebuilds.
export "CARGO_TARGET_${target_var}_RUSTFLAGS=$(wasm_setting $section rustflags)"

say "cargo build $crate ($target, profile $profile, $section)"
if [ $threads = 1 ] && [ "$route" = rustup ]; then
  # Atomics need std rebuilt with them: the nightly toolchain and its rust-src.
  CARGO_TARGET_DIR=$target_dir cargo +nightly build -p "$crate" --target "$target" --profile "$profile" \
    "${features[@]}" -Zbuild-std="$(wasm_setting threads build_std)"
elif [ "$route" = debian ]; then
  # Debian's Rust: std from source, which needs nightly flags; RUSTC_BOOTSTRAP is always set
  # for this target dir so cargo's fingerprints never flip.
  export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
  export "CARGO_TARGET_${target_var}_LINKER=$(wasm_setting build debian_linker)"
  CARGO_TARGET_DIR=$target_dir /usr/bin/cargo build -p "$crate" --target "$target" \
    --profile "$profile" "${features[@]}" -Zbuild-std="$(wasm_setting build debian_build_std)"
else
  CARGO_TARGET_DIR=$target_dir cargo build -p "$crate" --target "$target" --profile "$profile"
fi

raw=$target_dir/$target/$profile/${crate//-/_}.wasm
out_dir=$ROOT/$(wasm_setting bindgen out_dir)
[ $threads = 1 ] && out_dir=$ROOT/$(wasm_setting threads "$([ $relaxed = 1 ] && echo relaxed_)out_dir")
out_name=$(wasm_setting bindgen out_name)
say "wasm-bindgen -> $out_dir"
rm -rf "$out_dir"
wasm-bindgen --target "$(wasm_setting bindgen target)" --out-dir "$out_dir" --out-name "$out_name" "$raw"

# A publishable npm package: metadata and README beside the module (the default build).
if [ $threads = 0 ]; then
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cp "$crate_dir/npm/README.md" "$out_dir/README.md"
cat >"$out_dir/package.json" <<JSON
{
  "name": "shige",
  "version": "$version",
  "description": "Train a character-level RNN/LSTM/GRU on classical Chinese poems in the browser (WebGPU or WebAssembly) and write poems",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "${out_name}.js",
  "module": "${out_name}.js",
  "types": "${out_name}.d.ts",
  "exports": { ".": { "types": "./${out_name}.d.ts", "default": "./${out_name}.js" }, "./${out_name}_bg.wasm": "./${out_name}_bg.wasm" },
  "files": ["${out_name}.js", "${out_name}.d.ts", "${out_name}_bg.wasm", "${out_name}_bg.wasm.d.ts", "README.md"],
  "sideEffects": false,
  "keywords": ["poetry", "chinese", "rnn", "lstm", "gru", "webgpu", "wasm", "burn"]
}
JSON
fi

if [ $optimize = 1 ]; then
  # wasm-opt takes minutes: reuse the result while the module is unchanged.
  # The key covers the arguments too, so a changed [opt] setting is not answered from the cache.
  opt_args=$(wasm_setting opt args)
  [ $threads = 0 ] || opt_args+=" --enable-threads"
  [ $relaxed = 0 ] || opt_args+=" --enable-relaxed-simd"
  sum=$( (sha256sum "$out_dir/${out_name}_bg.wasm"; echo "$opt_args") | sha256sum | cut -c1-16)
  cached=$SHIGE_CACHE/wasm-opt-$sum.wasm
  if [ ! -f "$cached" ] && [ $cached_only = 1 ]; then
    say "no optimised module cached yet: the module as built"
  elif [ ! -f "$cached" ]; then
    say "wasm-opt $opt_args"
    # shellcheck disable=SC2086
    # Its own temporary file: the cache is shared by every clone using it.
    "$ROOT/tests/node_modules/.bin/wasm-opt" $opt_args \
      "$out_dir/${out_name}_bg.wasm" -o "$cached.tmp.$$"
    mv "$cached.tmp.$$" "$cached"
  fi
  [ ! -f "$cached" ] || cp "$cached" "$out_dir/${out_name}_bg.wasm"
fi
size=$(stat -c %s "$out_dir/${out_name}_bg.wasm")
gz=$(gzip -9c "$out_dir/${out_name}_bg.wasm" | wc -c)
say "wasm module: $((size / 1024)) KiB, $((gz / 1024)) KiB gzipped"
