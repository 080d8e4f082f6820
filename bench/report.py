"""Turns the JSON lines of one `scripts/bench.sh` run into the side-by-side table in
BENCHMARKS.md (between the `bench:start` / `bench:end` markers) and prints it."""
import argparse
import datetime
import json
import re

p = argparse.ArgumentParser()
p.add_argument("--results", required=True, help="JSON lines from the native and browser runs")
p.add_argument("--versions", required=True, help="JSON object: machine and versions")
p.add_argument("--benchmarks", required=True, help="BENCHMARKS.md to update")
p.add_argument("--command", required=True)
args = p.parse_args()

rows = [json.loads(line) for line in open(args.results) if line.startswith("{")]
info = json.load(open(args.versions))
E, H, B, T = 128, 256, 32, 64
peak = next((r["gflops"] for r in rows if r.get("peer") == "matmul_peak"), None)


def train_gflop(vocab):
    """Matmul FLOPs of one training step: forward, then twice that backward."""
    forward = 2 * B * T * (E * 3 * H + H * 3 * H + H * vocab)
    return 3 * forward / 1e9


def build(r):
    """Which wasm build a browser row of ours ran."""
    if not r.get("threaded"):
        return "single-threaded"
    return "threaded, relaxed SIMD" if r.get("relaxedSimd") else "threaded"


def name(r):
    if r["peer"] == "shige":
        where = "browser" if "poemMs" in r else "native"
        threaded = f", {build(r)}" if r.get("threaded") else ""
        return f"Shige ({where}, {r.get('backend') or r.get('device')}{threaded})"
    if r["peer"] == "tfjs":
        n = r.get("threads")
        threads = f", {n} thread{'s' if n > 1 else ''}" if n else ""
        return f"TF.js {r.get('version', '')} ({r['backend']}{threads})"
    return f"PyTorch {r['version']} (CPU, {r['threads']} thread{'s' if r['threads'] > 1 else ''})"


runs = [r for r in rows if r.get("peer") in ("shige", "tfjs", "pytorch")]
ok = [r for r in runs if "error" not in r]
native_vocab = next((r["vocab"] for r in ok if r["peer"] == "shige"), None)
for r in ok:
    r.setdefault("vocab", native_vocab)  # the peers train on the CLI's vocabulary size
    r["ms"] = r.get("ms_per_step", r.get("msPerStep"))
    r["cps"] = r.get("chars_per_s", r.get("charsPerS"))
    r["gflops"] = train_gflop(r["vocab"]) / (r["ms"] / 1e3)
best = lambda pred: max((r["cps"] for r in ok if pred(r)), default=None)
best_tfjs = best(lambda r: r["peer"] == "tfjs")
best_torch = best(lambda r: r["peer"] == "pytorch")


def ratio(r):
    """Ours against the best peer where it runs: PyTorch natively, TF.js in the browser."""
    if r["peer"] != "shige":
        return ""
    in_browser = "poemMs" in r
    peer, label = (best_tfjs, "best TF.js") if in_browser else (best_torch, "PyTorch")
    return f"{r['cps'] / peer:.2f}x {label}" if peer else ""


lines = [
    f"Measured {datetime.date.today()} on {info['machine']}.",
    f"Versions: {info['versions']}.",
    f"Model: embedding {E}, GRU {H}, dense over the vocabulary, batch {B} x seq {T}, Adam; "
    f"chars/s = {B * T} / median step time (after warm-up). GFLOP/s counts the step's matmuls "
    f"(forward + 2x backward)" + (f"; the machine's measured sgemm peak is {peak:.0f} GFLOP/s "
                                  f"(PyTorch/MKL, same threads)." if peak else "."),
    "",
    "| run | vocab | median ms/step | chars/s | ours / peer | GFLOP/s (share of peak) | warm 七绝 | steps (ms) |",
    "|---|---|---|---|---|---|---|---|",
]
for r in runs:
    if "error" in r:
        lines.append(f"| {r['peer']} ({r.get('backend') or r.get('device')}) | | did not run: {r['error'][:120]} | | | | | |")
        continue
    pct = 100 * r["gflops"] / peak if peak else None
    share = "" if pct is None else f" ({pct:.0f} %)" if pct >= 10 else f" ({pct:.1f} %)"
    poem = r.get("poemMs", r.get("poem_ms"))
    times = r.get("times_ms") or [round(t) for t in r.get("times", [])]
    lines.append(
        f"| {name(r)} | {r['vocab']:,} | {r['ms']:,.0f} | {r['cps']:,.0f} | {ratio(r)} | "
        f"{r['gflops']:.1f}{share} | {f'{poem:.1f} ms' if poem is not None else ''} | "
        f"{', '.join(f'{t:.0f}' for t in times)} |")
native_cpu = next((r for r in ok if r["peer"] == "shige" and r.get("device") == "cpu" and "poemMs" not in r), None)
browser_cpu = [r for r in ok if r["peer"] == "shige" and "poemMs" in r and r.get("backend") == "cpu"]
if native_cpu and browser_cpu:
    lines.append("")
    lines.append("The browser's CPU path against native Shige on the same cores: " + ", ".join(
        f"{build(r)} {r['cps'] / native_cpu['cps']:.2f}x" for r in browser_cpu) + ".")
if info.get("wasm"):
    lines.append("")
    lines.append(f"Our wasm builds: {info['wasm']}.")
table = "\n".join(lines)

text = open(args.benchmarks, encoding="utf-8").read()
block = f"<!-- bench:start -->\n```sh\n{args.command.strip()}\n```\n\n{table}\n<!-- bench:end -->"
if "<!-- bench:start -->" in text:
    text = re.sub(r"<!-- bench:start -->.*?<!-- bench:end -->", lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Side by side with the peers (`scripts/bench.sh`)\n\n" + block + "\n"
open(args.benchmarks, "w", encoding="utf-8").write(text)
print(table)
