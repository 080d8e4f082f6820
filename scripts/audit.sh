#!/usr/bin/env bash
# Audits the served site (not part of the tests): Lighthouse's four scores, axe-core in both
# languages, installability and the bytes of a first visit. Prints one JSON report.
# Usage: bash scripts/audit.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh >/dev/null
if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  say "npm ci (bench/: lighthouse, axe-core)"
  npm ci --prefix bench --no-audit --no-fund --loglevel=error >/dev/null
fi
bash scripts/build-site.sh --optimize >/dev/null
node bench/audit.mjs
