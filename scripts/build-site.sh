#!/usr/bin/env bash
# Assembles the static site in dist/site: www/, the wasm builds (default, threaded, threaded with relaxed SIMD), the
# vendored libraries, the built-in corpus and the starter model.
# Usage: scripts/build-site.sh [--optimize | --optimized-if-cached] [--default-only] [--no-wait]
#   --optimize             wasm-opt every module (minutes each; cached by module), and precompress
#   --optimized-if-cached  wasm-opt's cached results where there are any (seconds), and precompress
#   --default-only         only the default build: the page then trains on one thread (or WebGPU)
#   --no-wait              when another build of this clone is running, leave it to that one
#                          (exit status 3) rather than wait for it (scripts/serve.sh)
# dist/site is a link to the newest complete site, dist/sites/ID: each build assembles a folder
# of its own and then flips the link to it in one rename, so a server serving dist/site
# meanwhile never sees half a site, nor a moment without one. One build at a time (lock_builds).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
opt=() default_only=0 wait=
for arg in "$@"; do
  case $arg in
    --optimize|--optimized-if-cached) opt=("$arg") ;;
    --default-only) default_only=1 ;;
    --no-wait) wait=--no-wait ;;
    *) echo "usage: scripts/build-site.sh [--optimize | --optimized-if-cached] [--default-only] [--no-wait]" >&2; exit 2 ;;
  esac
done
lock_builds $wait || exit 3
bash scripts/build-wasm.sh "${opt[@]}"
if [ $default_only = 0 ]; then
  bash scripts/build-wasm.sh --threads "${opt[@]}"
  bash scripts/build-wasm.sh --threads --relaxed "${opt[@]}"
fi
site=$ROOT/dist/site
id=$(date +%Y%m%d-%H%M%S)-$$
next=$ROOT/dist/sites/$id
mkdir -p "$next/vendor"
cp -r www/. "$next/"
cp -r "$(wasm_setting bindgen out_dir)" "$next/pkg"
if [ $default_only = 0 ]; then
  cp -r "$(wasm_setting threads out_dir)" "$next/pkg-threads"
  cp -r "$(wasm_setting threads relaxed_out_dir)" "$next/pkg-threads-relaxed"
fi
rm -f "$next"/pkg*/README.md "$next"/pkg*/package.json "$next"/pkg*/*.d.ts
cp assets/node_modules/uplot/dist/uPlot.iife.min.js assets/node_modules/uplot/dist/uPlot.min.css "$next/vendor/"
cp assets/node_modules/i18next/dist/esm/i18next.js "$next/vendor/i18next.js"
# The QR code encoder (the class link, a poem's card): an ES module the page imports only when
# it draws a code, so a first visit does not load it (the service worker still precaches it).
cp assets/node_modules/qrcode-generator/dist/qrcode.mjs "$next/vendor/qrcode.js"
cp tests/node_modules/workbox-window/build/workbox-window.prod.mjs{,.map} "$next/vendor/"
cp tests/node_modules/wasm-feature-detect/dist/esm/index.js "$next/vendor/wasm-feature-detect.js"
cp assets/generated/default-corpus.txt "$next/default-corpus.txt"
# The starter model (trained by the command in assets/starter/README.md; int8, committed).
# Its training curve beside it (scripts/starter-curve.mjs), which the page draws as its history.
if [ -f assets/starter/starter.ckpt ]; then cp assets/starter/starter.ckpt "$next/starter.ckpt"; else say "no starter model (assets/starter/starter.ckpt)"; fi
if [ -f assets/starter/starter-curve.json ]; then cp assets/starter/starter-curve.json "$next/starter-curve.json"; fi
# The service worker's precache list, a build id, and (for serving) precompressed files.
compress=(); [ ${#opt[@]} -gt 0 ] && compress=(--compress)
node scripts/finish-site.mjs "$next" "${compress[@]}"

# The swap. Kept: the site served until now (requests begun before the flip finish from it);
# removed: older ones, and builds cut short.
served=$(readlink "$site" 2>/dev/null || true)
for old in "$ROOT"/dist/sites/*; do
  [ "$old" = "$next" ] || [ "sites/${old##*/}" = "$served" ] || rm -rf "$old"
done
# A clone built before dist/site was a link has a folder there: moved aside, once (the only
# moment with no site).
[ -L "$site" ] || [ ! -d "$site" ] || mv "$site" "$ROOT/dist/sites/before-link"
rm -rf "$site.next" "$site.old" # that earlier way's
# rename(2) replaces the old link in one step (`ln -sfn` would remove it first).
ln -sfn "sites/$id" "$site.link"
mv -T "$site.link" "$site"
say "site ready in $site -> dist/sites/$id ($(du -sh "$next" | cut -f1))"
