"""This machine's measured single-precision matmul peak (PyTorch/MKL sgemm, best of several
sizes), the yardstick for `scripts/bench.sh`'s GFLOP/s shares. Prints one JSON line."""
import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
args = p.parse_args()
torch.set_num_threads(args.threads)

best = 0.0
for n in (1024, 2048, 3072):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    reps = max(3, int(4e10 / (2 * n**3)))
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
print(json.dumps({"peer": "matmul_peak", "threads": args.threads, "gflops": best}))
