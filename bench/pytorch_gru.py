"""PyTorch peer for `scripts/bench.sh`: the same model and step as `shige bench`.

Embedding(V, E) -> nn.GRU(E, H) -> Linear(H, V), cross-entropy, Adam, global-norm clip 1.0,
on full batches [B, T] of token ids (speed does not depend on which ids). Prints one JSON line.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--embedding", type=int, default=128)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--steps", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, required=True)
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)


class PoemModel(nn.Module):
    def __init__(self, v, e, h):
        super().__init__()
        self.embedding = nn.Embedding(v, e)
        self.gru = nn.GRU(e, h, batch_first=True)
        self.fc = nn.Linear(h, v)

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        out, _ = self.gru(self.embedding(tokens))
        return self.fc(out)


model = PoemModel(args.vocab, args.embedding, args.hidden)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
loss_fn = nn.CrossEntropyLoss()
g = torch.Generator().manual_seed(1)


def step():
    tokens = torch.randint(0, args.vocab, (args.batch_size, args.seq + 1), generator=g)
    logits = model(tokens[:, :-1])
    loss = loss_fn(logits.reshape(-1, args.vocab), tokens[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()  # waits for the step, as our trainer reads its loss


for _ in range(args.warmup):
    step()
times = []
for _ in range(args.steps):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
median = statistics.median(times)
print(json.dumps({
    "peer": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(), "vocab": args.vocab,
    "ms_per_step": median * 1e3, "chars_per_s": args.batch_size * args.seq / median,
    "times_ms": [round(t * 1e3, 1) for t in times],
}))
