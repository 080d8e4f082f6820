"""Prints the recipe search's table from bench/recipes.sh's outputs (Markdown)."""
import csv
import json
import re
import sys

out, minutes, names = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"| recipe | held-out loss every 1000 steps (Tang) | final (Tang) | Song held-out | steps | chars/s |")
print("|---|---|---|---|---|---|")
for name in names:
    try:
        result = open(f"{out}/{name}.result").read()
    except FileNotFoundError:
        continue
    curve = []
    last = None
    with open(f"{out}/{name}.csv") as f:
        for step, _, _, val in csv.reader(f):
            if val != "NaN" and val != last:
                curve.append(f"{float(val):.3f}")
                last = val
    final = re.search(r"validation loss ([0-9.]+)", result)
    steps = re.search(r"^step (\d+):", result)  # the model's total (a resumed run's last segment is shorter)
    speed = re.search(r"([0-9]+) chars/s", result)
    try:
        song = json.load(open(f"{out}/{name}.song.json"))["heldOutLoss"]
        song = f"{song:.3f}"
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        song = "–"
    print(f"| {name} | {' → '.join(curve)} | **{float(final.group(1)):.3f}** | {song} | {steps.group(1)} | {speed.group(1)} |")
