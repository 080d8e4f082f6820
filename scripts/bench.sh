#!/usr/bin/env bash
# Side-by-side training benchmark (not part of the tests): Shige natively (CPU, and wgpu where an
# adapter exists) against PyTorch nn.GRU on the same threads, and Shige in headless Chromium
# (WebGPU and CPU) against TF.js on each backend that initialises. Writes the table into
# BENCHMARKS.md. Peers are installed here from npm / PyPI (pinned), never vendored.
# Usage: scripts/bench.sh [--steps N] [--skip-browser] [--skip-wgpu] [--tfjs cpu,wasm,webgl,webgpu]
#                         [--ours-only] [--transformer-only]
#   --ours-only: Shige's rows alone (native CPU, wgpu dispatches, the browser's CPU builds and the
#   page), on the site as the tests build it, printed and not written to BENCHMARKS.md: for
#   comparing two versions of the code in one sitting.
#   --transformer-only: only Shige's Transformer training step against nanoGPT's model in PyTorch
#   (bench/nanogpt.py), native, same threads, printed as a ratio (also part of a full run).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
command="bash scripts/bench.sh${*:+ $*}"
steps=5 browser=1 wgpu=1 tfjs=cpu,wasm,webgl,webgpu ours_only=0 transformer_only=0
# Native CPU steps take ~0.2 s and vary ~15 % between 5-step medians here: time more of them.
native_steps=20
while [ $# -gt 0 ]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --skip-browser) browser=0; shift ;;
    --skip-wgpu) wgpu=0; shift ;;
    --tfjs) tfjs=$2; shift 2 ;;  # TF.js's backends (its cpu one takes ~15 minutes here)
    --ours-only) ours_only=1; shift ;;
    --transformer-only) transformer_only=1; shift ;;
    *) echo "usage: scripts/bench.sh [--steps N] [--skip-browser] [--skip-wgpu] [--tfjs LIST] [--ours-only] [--transformer-only]" >&2; exit 2 ;;
  esac
done
TORCH_VERSION=2.15.0

[ $transformer_only = 1 ] || bash scripts/setup.sh
if [ $transformer_only = 0 ] && { [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; }; then
  say "npm ci (bench/: TF.js, playwright-core)"
  npm ci --prefix bench --no-audit --no-fund --loglevel=error >/dev/null
fi
venv=$SHIGE_CACHE/bench-venv
if [ $ours_only = 0 ] && ! "$venv/bin/python" -c "import torch, safetensors; assert torch.__version__.startswith('$TORCH_VERSION')" 2>/dev/null; then
  say "PyTorch $TORCH_VERSION into $venv"
  python3 -m venv --help >/dev/null 2>&1 || { apt-get update -q >/dev/null; apt-get install -y -q python3-venv >/dev/null; }
  python3 -m venv "$venv"
  # safetensors: bench/pytorch_check.py and bench/nanogpt.py load the exports with it.
  "$venv/bin/pip" install -q "torch==$TORCH_VERSION" safetensors numpy
fi

say "building the CLI$([ $transformer_only = 1 ] || echo ' and the optimised site')"
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
threads=$(nproc)

# Shige's Transformer training step against nanoGPT's model in PyTorch (bench/nanogpt.py) at the
# issue's size (batch 32 x seq 64, n_embd 128, 4 heads, 2 and 4 layers), same threads, same
# sitting; prints the ratio and the CPU's SIMD. Rows in $1.
transformer_bench() {
  local rows=$1 layers
  say "native: Shige's Transformer against nanoGPT in PyTorch, $threads threads"
  for layers in 2 4; do
    "$shige" bench --corpus "$SHIGE_DATA/poems.txt" --cell transformer --embedding 128 --heads 4 --layers $layers \
      --steps "$native_steps" --json >>"$rows"
    local v
    v=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["vocab"])' "$rows")
    "$venv/bin/python" bench/nanogpt.py bench --vocab "$v" --threads "$threads" --embedding 128 --heads 4 --layers $layers \
      --steps "$native_steps" >>"$rows"
  done
  python3 - "$rows" <<'PY'
import json, re, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
flags = open("/proc/cpuinfo").read()
simd = "AVX-512" if " avx512f" in flags else "AVX2 + FMA" if " avx2" in flags and " fma" in flags else "AVX2" if " avx2" in flags else "SSE/NEON only"
model = re.search(r"Model name:\s*(.*)", subprocess.run(["lscpu"], capture_output=True, text=True).stdout).group(1)
print(f"CPU: {model} ({simd}); batch 32 x seq 64, n_embd 128, 4 heads")
for ours, torch in zip(rows[0::2], rows[1::2]):
    print(f"{ours['model']}, {ours['params']:,} parameters (PyTorch {torch['params']:,}): "
          f"Shige {ours['ms_per_step']:.1f} ms/step, PyTorch {torch['version']} ({torch['threads']} threads) "
          f"{torch['ms_per_step']:.1f} ms/step: {torch['ms_per_step'] / ours['ms_per_step']:.2f}x PyTorch")
PY
}
out=$SHIGE_CACHE/bench-run
if [ $transformer_only = 1 ]; then
  rm -rf "$out" && mkdir -p "$out"
  transformer_bench "$out/transformer.jsonl"
  exit 0
fi
if [ $browser = 1 ]; then
  if [ $ours_only = 1 ]; then bash scripts/build-site.sh; else bash scripts/build-site.sh --optimize; fi
fi
rm -rf "$out" && mkdir -p "$out"
results=$out/results.jsonl

say "native: Shige on the CPU"
"$shige" bench --corpus "$SHIGE_DATA/poems.txt" --steps "$native_steps" --json --pieces-out "$out/pieces.txt" >>"$results"
vocab=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["vocab"])' "$results")
if [ $wgpu = 1 ]; then
  say "native: Shige on wgpu"
  "$shige" bench --corpus "$SHIGE_DATA/poems.txt" --device wgpu --steps "$steps" --json >>"$results" 2>"$out/wgpu.err" ||
    python3 -c 'import json,sys; print(json.dumps({"peer":"shige","device":"wgpu","error":open(sys.argv[1]).read().strip().splitlines()[-1]}))' "$out/wgpu.err" >>"$results"
fi
if [ $ours_only = 1 ]; then
  [ $browser = 0 ] || node bench/browser.mjs --pieces "$out/pieces.txt" --vocab "$vocab" --steps "$steps" \
    --ours cpu,cpu-threads --cells gru,transformer --tfjs '' --page cpu >>"$results"
  python3 - "$results" <<'PY'
import json, re, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
model = re.search(r"Model name:\s*(.*)", flags).group(1)
print(f"CPU: {model} ({simd})")
for r in rows:
    if "error" in r:
        print(f"{r.get('peer')} {r.get('device') or r.get('backend')}: error {r['error']}")
    elif r.get("device") == "cpu":
        print(f"native CPU: {r['ms_per_step']:.1f} ms/step, {r['chars_per_s']:,.0f} chars/s")
    elif r.get("device") == "wgpu":
        print(f"native wgpu ({r['adapter']}): {r['dispatches_per_step']} dispatches/step, {r['dispatches_per_char']} per character")
    elif r.get("peer") == "shige":
        kind = "threaded, relaxed SIMD" if r.get("relaxedSimd") else "threaded" if r.get("threaded") else "one thread"
        cell = f"{r.get('cell', 'gru')} ({r['params']:,} parameters)" if "params" in r else "gru"
        print(f"browser CPU ({kind}), {cell}: {r['msPerStep']:.1f} ms/step, {r['charsPerS']:,.0f} chars/s")
    elif r.get("peer") == "shige-page":
        print(f"page, default settings, CPU: {r['stepMs']:.0f} ms/step, a poem while training {r['poemWhileTrainingMs']:.0f} ms, Pause {r['pauseMs']:.0f} ms")
PY
  exit 0
fi
say "native: PyTorch on the CPU, $threads threads"
"$venv/bin/python" bench/pytorch_gru.py --vocab "$vocab" --threads "$threads" --steps "$native_steps" >>"$results"
"$venv/bin/python" bench/matmul_peak.py --threads "$threads" >>"$results"
transformer_bench "$out/transformer.jsonl"
if [ $browser = 1 ]; then
  say "headless Chromium: Shige (WebGPU, CPU) and TF.js (cpu, wasm, webgl, webgpu)"
  node bench/browser.mjs --pieces "$out/pieces.txt" --vocab "$vocab" --steps "$steps" --tfjs "$tfjs" >>"$results"
fi

python3 - "$out/versions.json" "$venv/bin/python" "$(wasm_setting opt args | cut -d' ' -f1)" <<'PY'
import json, os, platform, re, subprocess, sys
out, py, opt = sys.argv[1:]
run = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip()
cpu = re.search(r"Model name:\s*(.*)", run("lscpu")).group(1)
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
lock = open("Cargo.lock").read()
burn = re.search(r'name = "burn"\nversion = "([^"]+)"', lock).group(1)
versions = ", ".join([
    f"burn {burn}", run("rustc", "--version").split(" (")[0], run("chromium", "--version"),
    "node " + run("node", "--version"), "torch " + run(py, "-c", "import torch; print(torch.__version__)"),
    "@tensorflow/tfjs " + json.load(open("bench/node_modules/@tensorflow/tfjs/package.json"))["version"],
])
info = {"machine": f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}", "versions": versions}
# The default build (WebGPU and the one-thread CPU path) and the threaded one with relaxed SIMD.
builds = [(name, f"dist/site/{pkg}/shige_bg.wasm") for name, pkg in (("default", "pkg"), ("threaded, relaxed SIMD", "pkg-threads-relaxed"))]
sizes = []
for name, path in builds:
    if os.path.exists(path):
        import gzip
        raw = open(path, "rb").read()
        sizes.append(f"{name} {len(raw) / 1024:,.0f} KiB ({len(gzip.compress(raw, 9)) / 1024:,.0f} KiB gzipped)")
if sizes:
    info["wasm"] = f"{'; '.join(sizes)}; wasm-opt {opt}"
json.dump(info, open(out, "w"))
PY
python3 bench/report.py --results "$results" --versions "$out/versions.json" --benchmarks BENCHMARKS.md --command "$command"
say "table written to BENCHMARKS.md (raw results: $results)"
