#!/usr/bin/env bash
# On a machine with a GPU (not part of the tests; under 8 minutes; nothing downloaded beyond
# what scripts/setup.sh installs): Shige's training step on wgpu natively and the page's WebGPU
# trainer in headless Chromium, each with ms/step, chars/s, dispatches/step and the adapter.
# Usage: bash bench/gpu.sh [--steps N]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
steps=5
[ "${1:-}" = "--steps" ] && steps=$2
bash scripts/setup.sh >/dev/null
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
[ -f dist/site/pkg/shige.js ] || bash scripts/build-site.sh >/dev/null
out=$SHIGE_CACHE/gpu-bench
mkdir -p "$out"
say "native: wgpu (embedding 128, GRU 256, batch 32 x seq 64)"
"$shige" bench --corpus "$SHIGE_DATA/poems.txt" --device wgpu --steps "$steps" --warmup 2 --pieces-out "$out/pieces.txt" --json | tee "$out/native.json"
vocab=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab"])' "$out/native.json")
say "headless Chromium: the page's WebGPU trainer"
# Chromium on Linux reaches a real GPU through Vulkan; headless needs it asked for.
SHIGE_CHROMIUM_FLAGS="--enable-features=Vulkan --use-angle=vulkan --enable-unsafe-webgpu --ignore-gpu-blocklist" \
  timeout 360 node bench/browser.mjs --pieces "$out/pieces.txt" --vocab "$vocab" --steps "$steps" --ours webgpu --tfjs "" --page "" | tee "$out/browser.json"
python3 - "$out/native.json" "$out/browser.json" <<'PY'
import json, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip().startswith("{")]
print("| run | adapter | ms/step | chars/s | dispatches/step |\n|---|---|---|---|---|")
for r in rows:
    if "error" in r:
        print(f"| {r.get('peer')} {r.get('backend', '')} | error: {r['error']} | | | |")
        continue
    where = "native wgpu" if r.get("device") == "wgpu" else "Chromium WebGPU"
    print(f"| {where} | {r.get('adapter') or r.get('backend')} | {r.get('ms_per_step', r.get('msPerStep')):.1f} | "
          f"{r.get('chars_per_s', r.get('charsPerS')):,.0f} | {r.get('dispatches_per_step', r.get('dispatchesPerStep'))} |")
PY
