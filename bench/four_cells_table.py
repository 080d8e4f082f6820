"""Prints issue 30's four-cell table from bench/four_cells.sh's outputs (Markdown)."""
import csv
import json
import re
import sys

out = sys.argv[1]
best = dict(line.split(maxsplit=1) for line in open(f"{out}/best").read().splitlines() if line.strip())
print("| cell | swept flags (best) | parameters | held-out loss every 1,000 steps (Tang) | final | steps | chars/s "
      "| well-formed | 格律 of free 七绝 | copies a whole line | longest copied run (mean) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
pct = lambda v: f"{v * 100:.1f} %"
for cell in ["rnn", "lstm", "gru", "transformer"]:
    try:
        log = open(f"{out}/{cell}.log").read()
        report = json.load(open(f"{out}/{cell}.eval.json"))
    except (FileNotFoundError, json.JSONDecodeError):
        continue
    curve, last = [], None
    with open(f"{out}/{cell}.csv") as f:
        for step, _, _, val in csv.reader(f):
            if val != "NaN" and val != last:
                curve.append(f"{float(val):.3f}")
                last = val
    params = re.search(r"(\d+) parameters", log).group(1)
    final = log.strip().splitlines()[-1]
    steps = re.search(r"^step (\d+):", final, re.M).group(1)
    speed = re.search(r"([0-9]+) chars/s", final).group(1)
    q = report["quality"]
    print(f"| {cell} | `{best.get(cell, '').strip()}` | {int(params):,} | {' → '.join(curve)} | **{report['heldOutLoss']:.3f}** "
          f"| {int(steps):,} | {int(speed):,} | {pct(q['wellFormed'])} | {pct(q['meterQijue'])} | {pct(q['copiesALine'])} "
          f"| {q['copiedMean']:.1f} |")
