#!/usr/bin/env bash
# Sets up and serves the app on 127.0.0.1 as soon as a site can be served, then makes it better
# in the background: first the default build alone (the test command's build where it ran, else
# the first one built; wasm-opt's cached result where there is one), then every build (threaded
# too) optimised by wasm-opt, which runs once per module and is cached. The finished site replaces
# the served one in place; an open page's service worker announces it as a new version, and the
# next start serves it at once.
# Usage: scripts/serve.sh [--port N]   (default 8080)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
port=8080
while [ $# -gt 0 ]; do
  case $1 in
    --port) port=$2; shift 2 ;;
    *) echo "usage: scripts/serve.sh [--port N]" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh --tools-only
# The default wasm build compiles beside the built-in corpus's converter (crates/prepare).
start_wasm_builds --default-only --optimized-if-cached
trap stop_wasm_builds EXIT INT TERM
bash scripts/setup.sh
wait_wasm_builds
bash scripts/build-site.sh --optimized-if-cached --default-only
node scripts/serve.mjs --port "$port" &
server=$!
trap 'kill $server $(jobs -p) 2>/dev/null' EXIT INT TERM
log=$SHIGE_CACHE/serve-build.log
say "building the threaded builds and optimising in the background (log: $log)"
( bash scripts/build-site.sh --optimize >"$log" 2>&1 && say "the optimised site is served now (reload, or accept the page's update notice)" \
  || say "the background build failed (see $log); the site served so far stays" ) &
wait "$server"
