#!/usr/bin/env bash
# Builds the wasm crate and its JS bindings into dist/pkg, as wasm-pack.toml says.
# Usage: scripts/build-wasm.sh [--optimize]   (--optimize runs wasm-opt; takes minutes)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

target=$(wasm_setting build target)
profile=$(wasm_setting build profile)
crate_dir=$(wasm_setting build crate)
crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$crate_dir/Cargo.toml" | head -1)
# RUSTFLAGS must stay identical between builds, or everything rebuilds.
flags_var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
export "$flags_var=$(wasm_setting build rustflags)"

say "cargo build $crate ($target, profile $profile)"
if [ "$(cat "$SHIGE_CACHE/wasm-route" 2>/dev/null)" = debian ]; then
  # Debian's Rust: std from source, which needs nightly flags; RUSTC_BOOTSTRAP is always set
  # for this target dir so cargo's fingerprints never flip.
  export RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc
  export "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER=$(wasm_setting build debian_linker)"
  CARGO_TARGET_DIR=$WASM_TARGET_DIR /usr/bin/cargo build -p "$crate" --target "$target" \
    --profile "$profile" -Zbuild-std="$(wasm_setting build debian_build_std)"
else
  CARGO_TARGET_DIR=$WASM_TARGET_DIR cargo build -p "$crate" --target "$target" --profile "$profile"
fi

raw=$WASM_TARGET_DIR/$target/$profile/${crate//-/_}.wasm
out_dir=$ROOT/$(wasm_setting bindgen out_dir)
out_name=$(wasm_setting bindgen out_name)
say "wasm-bindgen -> $out_dir"
rm -rf "$out_dir"
wasm-bindgen --target "$(wasm_setting bindgen target)" --out-dir "$out_dir" --out-name "$out_name" "$raw"

if [ "${1:-}" = "--optimize" ]; then
  # wasm-opt takes minutes: reuse the result while the module is unchanged.
  sum=$(sha256sum "$out_dir/${out_name}_bg.wasm" | cut -c1-16)
  cached=$SHIGE_CACHE/wasm-opt-$sum.wasm
  if [ ! -f "$cached" ]; then
    say "wasm-opt $(wasm_setting opt args)"
    # shellcheck disable=SC2046
    "$ROOT/tests/node_modules/.bin/wasm-opt" $(wasm_setting opt args) \
      "$out_dir/${out_name}_bg.wasm" -o "$cached.tmp"
    mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$out_dir/${out_name}_bg.wasm"
fi
size=$(stat -c %s "$out_dir/${out_name}_bg.wasm")
gz=$(gzip -9c "$out_dir/${out_name}_bg.wasm" | wc -c)
say "wasm module: $((size / 1024)) KiB, $((gz / 1024)) KiB gzipped"
