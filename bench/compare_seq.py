#!/usr/bin/env python3
"""Training-step time of nnc against PyTorch eager on the sequence models.

- `lstm`: the seed LSTM at batch 64, 32 steps of 100 features (2 layers,
  hidden 128, last step to 10 classes), `bench/seq_lstm.nn`;
- `transformer`: one post-norm Transformer encoder layer at batch 16, 64
  tokens, d_model 512, 8 heads, feed-forward 2048, dropout 0.1, averaged
  over the tokens to 10 classes, `bench/seq_transformer.nn`.

Both train with Adam (lr 1e-3) and cross-entropy on random data. Each round
times the PyTorch step (zero_grad, forward, loss, backward, step) and then
`nnc bench --json` with the same number of threads, so that load from other
processes hits both alike; the medians of the rounds' medians are printed.

    python3 bench/compare_seq.py [--threads 2] [--rounds 3] [--nnc target/release/nnc]
"""

import argparse
import statistics
import time
from pathlib import Path

from compare import nnc_bench  # the same `nnc bench --json` runner as the seed models

ROOT = Path(__file__).resolve().parent
MODELS = {"lstm": ROOT / "seq_lstm.nn", "transformer": ROOT / "seq_transformer.nn"}
STEPS = {"lstm": (30, 5), "transformer": (10, 2)}


def torch_step_ms(model, threads, steps, warmup):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "lstm":

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(100, 128, num_layers=2, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, x):
                return self.fc(self.lstm(x)[0][:, -1])

        batch, x = 64, torch.rand(64, 32, 100)
    else:

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerEncoderLayer(512, 8, 2048, 0.1, batch_first=True)
                self.head = nn.Linear(512, 10)

            def forward(self, x):
                return self.head(self.layer(x).mean(1))

        batch, x = 16, torch.rand(16, 64, 512)
    net = Net()
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nnc", default=str(ROOT.parent / "target" / "release" / "nnc"))
    ap.add_argument("--models", default="lstm,transformer")
    args = ap.parse_args()
    print("| model | threads | PyTorch ms/step | nnc ms/step | speedup | nnc compile ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for model in args.models.split(","):
        steps, warmup = STEPS[model]
        torch_ms, nnc_ms, compile_ms = [], [], []
        for _ in range(args.rounds):
            torch_ms.append(torch_step_ms(model, args.threads, steps, warmup))
            r = nnc_bench(args.nnc, MODELS[model], args.threads, steps, warmup)
            nnc_ms.append(r["step_ms_median"])
            compile_ms.append(r["compile_ms"])
        t, n = statistics.median(torch_ms), statistics.median(nnc_ms)
        print(f"| {model} | {args.threads} | {t:.1f} | {n:.1f} | {t / n:.2f}x | {statistics.median(compile_ms):.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
