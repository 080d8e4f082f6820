#!/usr/bin/env bash
# Sets up, builds the optimised site and serves it on 127.0.0.1.
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
bash scripts/setup.sh
bash scripts/build-site.sh --optimize
exec node scripts/serve.mjs --port "$port"
