#!/usr/bin/env bash
# Sets up and serves the app on 127.0.0.1 as soon as a site can be served, then makes it better
# in the background: first the default build alone (the test command's build where it ran, else
# the first one built; wasm-opt's cached result where there is one), then every build (threaded
# too) optimised by wasm-opt, which runs once per module and is cached. The finished site replaces
# the served one in one step (scripts/build-site.sh); an open page's service worker announces it
# as a new version. A restart serves the last complete site at once and builds only behind it.
# Ctrl-C stops everything this script started.
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

# The port first, before any set-up or build: found only when the server started, a second
# serve.sh had built by then, and swapped a lesser site in under the first one's pages.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_taken "$port"; then
  say "port $port is in use (another scripts/serve.sh?): stop that server, or choose another port with --port N"
  exit 1
fi

# Everything this script starts runs in a process group of its own, and every group is stopped
# when the script ends, however it ends (Ctrl-C, an error, the server failing): a background build
# left behind goes on for minutes and then swaps dist/site with no one serving it. A script's
# background child never leads a group, so setsid makes one without forking: `$!` is its id.
groups=()
in_group() { setsid "$@" & groups+=("$!"); }
# A group is still ours while its first process is our child, or gone (the id of a group with
# processes left is never given out again); else the id now belongs to someone else's.
ours() {
  [ -e "/proc/$1" ] || return 0
  local stat; stat=$(<"/proc/$1/stat")
  # shellcheck disable=SC2086
  set -- ${stat##*) } # state, parent, …
  [ "$2" = $$ ]
}
stop_all() {
  local group
  for group in "${groups[@]}"; do ! ours "$group" || kill -- "-$group" 2>/dev/null || true; done
  stop_wasm_builds
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A step in the foreground, in a group too: bash runs a trap only once the foreground command
# ends, so Ctrl-C would wait for it (and not reach what it left in the background).
step() { in_group "$@"; wait "${groups[-1]}"; }

start_server() {
  in_group node scripts/serve.mjs --port "$port"
  server=${groups[-1]}
  # Listening before anything else starts: a port taken since the check ends the run here.
  until port_taken "$port"; do
    kill -0 "$server" 2>/dev/null || { wait "$server" || true; exit 1; }
    sleep 0.1
  done
}

if [ -e dist/site ]; then
  # A restart: the last complete site at once (a default build first would replace it with a
  # lesser one, and an open page would be told of two new versions).
  start_server
  step bash scripts/setup.sh
else
  step bash scripts/setup.sh --tools-only
  # The default wasm build compiles beside the built-in corpus's converter (crates/prepare).
  start_wasm_builds --default-only --optimized-if-cached
  step bash scripts/setup.sh
  wait_wasm_builds
  step bash scripts/build-site.sh --optimized-if-cached --default-only
  start_server
fi
log=$SHIGE_CACHE/serve-build.log
say "building the threaded builds and optimising in the background (log: $log)"
# --no-wait: where another build of this clone is running (another serve.sh), its site is the
# one this server serves next; a second build would only repeat it.
in_group bash -c '
  source scripts/lib.sh
  status=0
  bash scripts/build-site.sh --optimize --no-wait >"$1" 2>&1 || status=$?
  case $status in
    0) say "the optimised site is served now (reload, or accept the page'\''s update notice)" ;;
    3) tail -n 1 "$1" >&2; say "this server serves the site it puts in place when it is done" ;;
    *) say "the background build failed (see $1); the site served so far stays" ;;
  esac' _ "$log"
status=0
wait "$server" || status=$?
say "the server stopped (exit status $status)"
exit $status
