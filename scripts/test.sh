#!/usr/bin/env bash
# Sets up everything and runs all tests: Rust (core, CLI), then the wasm build and the page
# in Node and headless Chromium. Each thing is built once: one native build, and the three wasm
# builds, which compile in the background beside the corpus, the native build and its tests.
# Ends with the time of each phase.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
phases=()
phase_start=$(date +%s)
# Ends the current phase: `end_phase NAME` records how long it took.
end_phase() { local now; now=$(date +%s); phases+=("$1: $((now - phase_start)) s"); phase_start=$now; }

bash scripts/setup.sh --tools-only
end_phase "set-up (tools)"

start_wasm_builds
# The built-in corpus (crates/prepare, a small converter).
bash scripts/setup.sh

say "Rust build (native: core, CLI and their tests)"
# Their scratch files go under one folder, removed afterwards (the CLI tests' would stay in /tmp).
rust_tmp=$(mktemp -d "${TMPDIR:-/tmp}/shige-cargo-test.XXXXXX")
trap 'rm -rf "$rust_tmp"; stop_wasm_builds' EXIT
cargo test --release --no-run
end_phase "corpus and Rust build (wasm builds beside them)"

say "cargo test (native; wgpu on the software Vulkan adapter)"
SHIGE_REQUIRE_WGPU=1 TMPDIR=$rust_tmp cargo test --release
end_phase "Rust tests (wasm builds beside them)"

say "waiting for the wasm builds"
wait_wasm_builds
say "static site"
bash scripts/build-site.sh
end_phase "rest of the wasm builds, and the site"

say "Node and headless-Chromium tests of the wasm build and the page"
# Chromium keeps 2 GB of the disk free and gives sites no storage below that: the service worker
# then cannot keep the offline copy, and the offline tests fail. Say so before they do.
free_mb=$(df -Pm "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 }')
if [ "${free_mb:-0}" -lt 3072 ]; then
  say "warning: only ${free_mb} MB free under ${TMPDIR:-/tmp}; Chromium grants no storage below 2 GB free, so the offline tests will fail"
fi
# Browser tests write screenshots to tests/output/. Two test files at a time: a browser test
# waits on its page most of the time, and two share the 2 cores without a test's step limits
# noticing (the suite takes ~10 minutes instead of ~15).
export SHIGE_BIN=$CARGO_TARGET_DIR/release/shige
(cd tests && node --test --test-concurrency=2 --test-reporter=spec ./*.test.mjs)
end_phase "browser and Node tests"

say "all tests passed in $(elapsed); phases:"
printf '    %s\n' "${phases[@]}" >&2
