#!/usr/bin/env bash
# Assembles the static site in dist/site: www/, the wasm package, uPlot and the built-in corpus.
# Usage: scripts/build-site.sh [--optimize]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/build-wasm.sh "$@"
site=$ROOT/dist/site
rm -rf "$site"
mkdir -p "$site/vendor"
cp -r www/. "$site/"
cp -r "$(wasm_setting bindgen out_dir)" "$site/pkg"
cp assets/node_modules/uplot/dist/uPlot.iife.min.js assets/node_modules/uplot/dist/uPlot.min.css "$site/vendor/"
cp assets/node_modules/i18next/dist/esm/i18next.js "$site/vendor/i18next.js"
cp tests/node_modules/workbox-window/build/workbox-window.prod.mjs "$site/vendor/"
cp assets/generated/default-corpus.txt "$site/default-corpus.txt"
# The service worker's precache list, a build id, and (for serving) precompressed files.
compress=(); [ "${1:-}" = "--optimize" ] && compress=(--compress)
node scripts/finish-site.mjs "$site" "${compress[@]}"
say "site ready in $site ($(du -sh "$site" | cut -f1))"
