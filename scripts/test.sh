#!/usr/bin/env bash
# Sets up everything and runs all tests: Rust (core, CLI), then the wasm build and the page
# in Node and headless Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh

say "cargo test (native; wgpu on the software Vulkan adapter)"
# Their scratch files go under one folder, removed afterwards (the CLI tests' would stay in /tmp).
rust_tmp=$(mktemp -d "${TMPDIR:-/tmp}/shige-cargo-test.XXXXXX")
trap 'rm -rf "$rust_tmp"' EXIT
SHIGE_REQUIRE_WGPU=1 TMPDIR=$rust_tmp cargo test --release

say "wasm build and static site"
bash scripts/build-site.sh

say "Node and headless-Chromium tests of the wasm build and the page"
# Chromium keeps 2 GB of the disk free and gives sites no storage below that: the service worker
# then cannot keep the offline copy, and the offline tests fail. Say so before they do.
free_mb=$(df -Pm "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 }')
if [ "${free_mb:-0}" -lt 3072 ]; then
  say "warning: only ${free_mb} MB free under ${TMPDIR:-/tmp}; Chromium grants no storage below 2 GB free, so the offline tests will fail"
fi
# Browser tests write screenshots to tests/output/.
export SHIGE_BIN=$CARGO_TARGET_DIR/release/shige
(cd tests && node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs)
