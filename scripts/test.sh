#!/usr/bin/env bash
# Sets up everything and runs all tests: Rust (core, CLI), then the wasm build and the page
# in Node and headless Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh

say "cargo test (native; wgpu on the software Vulkan adapter)"
SHIGE_REQUIRE_WGPU=1 cargo test --release

say "wasm build and static site"
bash scripts/build-site.sh

say "Node and headless-Chromium tests of the wasm build and the page"
# Browser tests write screenshots to tests/output/.
export SHIGE_BIN=$CARGO_TARGET_DIR/release/shige
(cd tests && node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs)
