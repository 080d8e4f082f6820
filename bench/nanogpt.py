"""nanoGPT's GPT (Karpathy's model.py, written the same way: GELU exact, LayerNorm eps 1e-5,
F.scaled_dot_product_attention(is_causal=True), lm_head tied to wte) for two jobs:

  check EXPORT_DIR --model CKPT [--shige BIN]   load `shige export` / `train --export` of a
      Transformer, compare its logits with Shige's on 3 greedy poems (max abs diff <= 1e-4,
      from `shige logits`) and its greedy poems with `shige generate --temperature 0`
  bench --vocab V --threads N [sizes]           PyTorch's training step (the peer of
      `shige bench --cell transformer`): cross-entropy, Adam, clip 1.0; prints one JSON line

Run in the benchmark's venv (scripts/bench.sh makes it: PyPI's torch 2.15.0, plus safetensors).
"""
import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


class LayerNorm(nn.Module):
    """LayerNorm but with an optional bias. PyTorch doesn't support simply bias=False"""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        # As nanoGPT's, except that the logits of every position come back without targets
        # too (nanoGPT's inference shortcut keeps only the last): the check compares them all.
        b, t = idx.size()
        assert t <= self.config.block_size, f"Cannot forward sequence of length {t}, block size is only {self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


PAD, UNK, BOS, EOS = 0, 1, 2, 3


def load(export):
    from safetensors.torch import load_file

    config = json.load(open(f"{export}/config.json"))
    fields = {k: config[k] for k in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "dropout", "bias")}
    model = GPT(GPTConfig(**fields))
    model.load_state_dict(load_file(f"{export}/model.safetensors"))
    model.eval()
    tokens = json.load(open(f"{export}/vocab.json"))["tokens"]
    return model, tokens


@torch.no_grad()
def greedy(model, tokens, start):
    """`shige generate --temperature 0 --repetition-penalty 1`: PAD, UNK and BOS never chosen,
    EOS ends the poem, at most 81 steps; the context cropped to the block as nanoGPT's generate."""
    index = {t: i for i, t in enumerate(tokens)}
    idx, out = torch.tensor([[BOS]]), []
    for step in range(81):
        idx_cond = idx if idx.size(1) <= model.config.block_size else idx[:, -model.config.block_size:]
        logits = model(idx_cond)[0][0, -1]
        if step == 0:
            token = index[start]
        else:
            logits[[PAD, UNK, BOS]] = float("-inf")
            token = int(torch.argmax(logits))
            if token == EOS:
                break
        out.append(tokens[token])
        idx = torch.cat([idx, torch.tensor([[token]])], dim=1)
    return "".join(out)


def check(args):
    model, tokens = load(args.export)
    index = {t: i for i, t in enumerate(tokens)}
    run = lambda *a: subprocess.run([args.shige, *a], check=True, capture_output=True, text=True).stdout
    ours = run("generate", "--model", args.model, "--start", args.starts, "--temperature", "0", "--repetition-penalty", "1").split()
    theirs = [greedy(model, tokens, s) for s in args.starts]
    for s, a, b in zip(args.starts, ours, theirs):
        print(f"{s}: shige   {a}\n{s}: PyTorch {b}")
    same_poems = ours == theirs
    texts = json.loads(run("logits", "--model", args.model, *[x for p in ours for x in ("--text", p)]))["texts"]
    worst = 0.0
    with torch.no_grad():
        for t in texts:
            ids = [BOS] + [index[c] for c in t["text"]]
            assert ids == t["tokens"], "the vocabularies differ"
            logits = model(torch.tensor([ids]))[0][0]
            worst = max(worst, float((logits - torch.tensor(t["logits"])).abs().max()))
    print(json.dumps({"check": "nanogpt", "torch": torch.__version__, "poems": len(texts), "max_abs_logit_diff": worst,
                      "logits_match": worst <= 1e-4, "greedy_poems_match": same_poems}))
    return 0 if worst <= 1e-4 and same_poems else 1


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPTConfig(block_size=args.seq, vocab_size=args.vocab, n_layer=args.layers, n_head=args.heads, n_embd=args.embedding, dropout=0.0, bias=True)
    model = GPT(config)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(1)

    def step():
        tokens = torch.randint(0, args.vocab, (args.batch_size, args.seq + 1), generator=g)
        # contiguous, as nanoGPT's get_batch makes them (its forward views the targets)
        _, loss = model(tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # waits for the step, as Shige's trainer reads its loss

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(json.dumps({
        "peer": "pytorch", "cell": "transformer", "version": torch.__version__, "threads": torch.get_num_threads(),
        "vocab": args.vocab, "params": sum(p.numel() for p in model.parameters()),
        "ms_per_step": median * 1e3, "chars_per_s": args.batch_size * args.seq / median,
        "times_ms": [round(t * 1e3, 1) for t in times],
    }))
    return 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="job", required=True)
    c = sub.add_parser("check")
    c.add_argument("export")
    c.add_argument("--model", required=True, help="the checkpoint the export came from")
    c.add_argument("--shige", default="target/release/shige")
    c.add_argument("--starts", default="月山春", help="one greedy poem per character")
    b = sub.add_parser("bench")
    b.add_argument("--vocab", type=int, required=True)
    b.add_argument("--embedding", type=int, default=128)
    b.add_argument("--heads", type=int, default=4)
    b.add_argument("--layers", type=int, default=2)
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--seq", type=int, default=64)
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--threads", type=int, required=True)
    args = p.parse_args(argv)
    return check(args) if args.job == "check" else bench(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
