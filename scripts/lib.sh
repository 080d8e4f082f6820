# Shared by the project's scripts: paths, caches and logging. Source it; don't run it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Build caches live outside the clone so fresh clones (CI) build incrementally.
SHIGE_CACHE=${SHIGE_CACHE:-$HOME/.cache/shige}
export SHIGE_CACHE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SHIGE_CACHE/target}
WASM_TARGET_DIR=$SHIGE_CACHE/wasm-target
# Test and benchmark data beside the repository (never copied into it).
SHIGE_DATA=${SHIGE_DATA:-$ROOT/../shared/data}
export SHIGE_DATA
mkdir -p "$SHIGE_CACHE"
# Every message carries the minutes and seconds since the first script started, so a log shows
# where the time went (the test command's phases are summed at its end).
SHIGE_T0=${SHIGE_T0:-$(date +%s)}
export SHIGE_T0
elapsed() { local s=$(($(date +%s) - SHIGE_T0)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
say() { printf '\033[1m==> [%s] %s\033[0m\n' "$(elapsed)" "$*" >&2; }

# Reads `key` from `[section]` of wasm-pack.toml.
wasm_setting() {
  python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))[sys.argv[2]][sys.argv[3]])' \
    "$ROOT/wasm-pack.toml" "$1" "$2"
}
# The wasm-bindgen version pinned by Cargo.lock (the CLI must match it exactly).
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock"
}

# The three wasm builds (default, threaded, threaded with relaxed SIMD) in the background, so
# they compile while the native build runs: each native or wasm build alone leaves one of the
# two cores idle in its long single-crate stretches.
wasm_builds_log=$SHIGE_CACHE/wasm-builds.log
# `start_wasm_builds [--default-only] [build-wasm.sh flags]`, then `wait_wasm_builds`;
# `stop_wasm_builds` (for traps) stops them, cargo included (they run in their own process group).
start_wasm_builds() {
  local default_only=0
  [ "${1:-}" != --default-only ] || { default_only=1; shift; }
  say "wasm builds start in the background (log: $wasm_builds_log)"
  setsid bash -c '
    script=$1 default_only=$2; shift 2
    bash "$script" "$@" || exit
    [ "$default_only" = 1 ] && exit
    bash "$script" --threads "$@" && bash "$script" --threads --relaxed "$@"
  ' _ "$ROOT/scripts/build-wasm.sh" "$default_only" "$@" >"$wasm_builds_log" 2>&1 &
  wasm_builds_pid=$!
}
wait_wasm_builds() {
  local status=0
  wait "$wasm_builds_pid" || status=$?
  # Done: the group's id may go to another process now, which stop_wasm_builds must not stop.
  wasm_builds_pid=
  sed 's/^/    wasm | /' "$wasm_builds_log" >&2
  [ $status = 0 ] || { say "the wasm builds failed (above)"; return $status; }
  say "wasm builds done"
}
stop_wasm_builds() { [ -z "${wasm_builds_pid:-}" ] || kill -- "-$wasm_builds_pid" 2>/dev/null || true; }

# One build at a time in a clone: builds share dist/pkg*, the site being assembled and its swap
# into place, so a second one would mix its files into the first's. `lock_builds` takes this
# clone's lock (flock on dist/.build.lock, held until this script and the processes it started
# end), saying which build holds it and waiting for it; `lock_builds --no-wait` returns 1 at once
# instead. A script that a holder runs (build-site.sh -> build-wasm.sh) holds it already.
lock_builds() {
  local file=$ROOT/dist/.build.lock
  [ "${SHIGE_BUILD_LOCK:-}" != "$file" ] || return 0
  mkdir -p "$ROOT/dist"
  exec 9>>"$file"
  if ! flock -n 9; then
    if [ "${1:-}" = --no-wait ]; then
      say "another build is running in this clone ($(cat "$file")); leaving the build to it"
      exec 9>&-
      return 1
    fi
    say "another build is running in this clone ($(cat "$file")); waiting for it to finish"
    flock 9
  fi
  printf 'pid %s: %s, since %s' $$ "$(tr '\0' ' ' </proc/$$/cmdline | sed 's/ $//')" "$(date +%T)" >"$file"
  export SHIGE_BUILD_LOCK=$file
}
