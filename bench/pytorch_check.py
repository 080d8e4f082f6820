"""An exported Shige model in PyTorch: loads `shige train --export DIR` (model.safetensors +
vocab.json + config.json) into nn.Embedding -> nn.RNN / nn.LSTM / nn.GRU -> nn.Linear, decodes
greedily from a start character the way `shige generate --temperature 0 --repetition-penalty 1` does (PAD, UNK and BOS
are never chosen; EOS ends the poem; at most 80 characters), and prints the poem.

Usage: python bench/pytorch_check.py EXPORT_DIR [START]   (in the benchmark's venv)

A Transformer's export goes to nanoGPT's model (bench/nanogpt.py), which prints the greedy poem
the same way; `python bench/nanogpt.py check EXPORT_DIR --model CKPT` also compares its logits
and poems with Shige's.
"""
import json
import sys

import torch
from safetensors.torch import load_file

export, start = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "月")
config = json.load(open(f"{export}/config.json"))
shape = config["shape"]
if shape["cell"] == "transformer":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import nanogpt

    print(nanogpt.greedy(*nanogpt.load(export), start))
    sys.exit(0)
tokens = json.load(open(f"{export}/vocab.json"))["tokens"]
index = {t: i for i, t in enumerate(tokens)}
PAD, UNK, BOS, EOS = 0, 1, 2, 3
cells = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
weights = load_file(f"{export}/model.safetensors")

embedding = torch.nn.Embedding(config["vocab_size"], shape["embedding"])
rnn = cells[shape["cell"]](shape["embedding"], shape["hidden"], num_layers=shape["layers"], batch_first=True)
fc = torch.nn.Linear(shape["hidden"], config["vocab_size"])
embedding.load_state_dict({"weight": weights["embedding.weight"]})
rnn.load_state_dict({k.split(".", 1)[1]: v for k, v in weights.items() if k.startswith(shape["cell"] + ".")})
fc.load_state_dict({"weight": weights["fc.weight"], "bias": weights["fc.bias"]})

out, state, token = [], None, BOS
with torch.no_grad():
    for step in range(81):
        hidden, state = rnn(embedding(torch.tensor([[token]])), state)
        logits = fc(hidden[0, -1])
        if step == 0:
            token = index[start]
        else:
            logits[[PAD, UNK, BOS]] = float("-inf")
            token = int(torch.argmax(logits))
            if token == EOS:
                break
        out.append(tokens[token])
print("".join(out))
