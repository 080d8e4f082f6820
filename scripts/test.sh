#!/usr/bin/env bash
# Sets up everything and runs all tests: Rust (core, CLI), the wasm build, and JS tests on it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/setup.sh

say "cargo test (native)"
cargo test --release

say "wasm build"
bash scripts/build-wasm.sh

say "node tests on the wasm build"
(cd tests && node --test --test-reporter=spec ./*.test.mjs)
