#!/usr/bin/env bash
# Assembles the static site in dist/site: www/, the wasm builds (default, threaded, threaded with relaxed SIMD), the
# vendored libraries, the built-in corpus and the starter model.
# Usage: scripts/build-site.sh [--optimize]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/build-wasm.sh "$@"
bash scripts/build-wasm.sh --threads "$@"
bash scripts/build-wasm.sh --threads --relaxed "$@"
site=$ROOT/dist/site
rm -rf "$site"
mkdir -p "$site/vendor"
cp -r www/. "$site/"
cp -r "$(wasm_setting bindgen out_dir)" "$site/pkg"
cp -r "$(wasm_setting threads out_dir)" "$site/pkg-threads"
cp -r "$(wasm_setting threads relaxed_out_dir)" "$site/pkg-threads-relaxed"
rm -f "$site"/pkg*/README.md "$site"/pkg*/package.json "$site"/pkg*/*.d.ts
cp assets/node_modules/uplot/dist/uPlot.iife.min.js assets/node_modules/uplot/dist/uPlot.min.css "$site/vendor/"
cp assets/node_modules/i18next/dist/esm/i18next.js "$site/vendor/i18next.js"
cp tests/node_modules/workbox-window/build/workbox-window.prod.mjs{,.map} "$site/vendor/"
cp tests/node_modules/wasm-feature-detect/dist/esm/index.js "$site/vendor/wasm-feature-detect.js"
cp assets/generated/default-corpus.txt "$site/default-corpus.txt"
# The starter model (trained by the command in assets/starter/README.md; int8, committed).
if [ -f assets/starter/starter.ckpt ]; then cp assets/starter/starter.ckpt "$site/starter.ckpt"; else say "no starter model (assets/starter/starter.ckpt)"; fi
# The service worker's precache list, a build id, and (for serving) precompressed files.
compress=(); [ "${1:-}" = "--optimize" ] && compress=(--compress)
node scripts/finish-site.mjs "$site" "${compress[@]}"
say "site ready in $site ($(du -sh "$site" | cut -f1))"
