# Shared by the project's scripts: paths, caches and logging. Source it; don't run it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Build caches live outside the clone so fresh clones (CI) build incrementally.
SHIGE_CACHE=${SHIGE_CACHE:-$HOME/.cache/shige}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SHIGE_CACHE/target}
WASM_TARGET_DIR=$SHIGE_CACHE/wasm-target
# Test and benchmark data beside the repository (never copied into it).
SHIGE_DATA=${SHIGE_DATA:-$ROOT/../shared/data}
export SHIGE_DATA
mkdir -p "$SHIGE_CACHE"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# Reads `key` from `[section]` of wasm-pack.toml.
wasm_setting() {
  python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))[sys.argv[2]][sys.argv[3]])' \
    "$ROOT/wasm-pack.toml" "$1" "$2"
}
# The wasm-bindgen version pinned by Cargo.lock (the CLI must match it exactly).
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock"
}
