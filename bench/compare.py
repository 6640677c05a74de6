#!/usr/bin/env python3
"""Training-step time of nnc against PyTorch eager on the seed MLP and CNN.

For each model this runs the same training step (batch 64, random data, SGD
with momentum 0.9, the same layers) in PyTorch eager mode and through
`nnc bench --json`, with the same number of threads, alternating the two for
a few rounds so that load from other processes hits both alike, and prints
the median milliseconds per step of each and their ratio.

    python3 bench/compare.py [--threads 2] [--rounds 3] [--nnc target/release/nnc]

Without PyTorch installed it prints the nnc numbers only.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"mlp": ROOT / "examples" / "mnist_mlp.nn", "cnn": ROOT / "examples" / "mnist_cnn.nn"}


def torch_step_ms(model, threads, steps, warmup, batch=64):
    """Median, p10 and p90 milliseconds of a PyTorch eager training step."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        x = torch.rand(batch, 784)

        def loss_fn(out, y):
            return F.cross_entropy(out, y)
    else:

        class Cnn(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3)
                self.conv2 = nn.Conv2d(32, 64, 3)
                self.fc1 = nn.Linear(9216, 128)
                self.fc2 = nn.Linear(128, 10)

            def forward(self, x):
                h = F.relu(self.conv1(x))
                h = F.relu(self.conv2(h))
                h = F.max_pool2d(h, 2)
                h = F.dropout(h, 0.25, self.training)
                h = torch.flatten(h, 1)
                h = F.relu(self.fc1(h))
                h = F.dropout(h, 0.5, self.training)
                return F.log_softmax(self.fc2(h), dim=1)

        net = Cnn()
        x = torch.rand(batch, 1, 28, 28)

        def loss_fn(out, y):
            return F.nll_loss(out, y)

    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        dt = (time.perf_counter() - t0) * 1000.0
        if i >= warmup:
            times.append(dt)
    return quantiles(times)


def quantiles(xs):
    xs = sorted(xs)

    def q(p):
        pos = p * (len(xs) - 1)
        lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return q(0.5), q(0.1), q(0.9)


def nnc_bench(nnc, path, threads, steps, warmup):
    out = subprocess.run(
        [str(nnc), "bench", str(path), "--threads", str(threads), "--steps", str(steps),
         "--warmup", str(warmup), "--json"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nnc", default=str(ROOT / "target" / "release" / "nnc"))
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--json", action="store_true", help="print one JSON object per model")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch is not installed: reporting nnc only", file=sys.stderr)
    steps = {"mlp": (200, 20), "cnn": (50, 5)}
    rows = []
    for model in args.models.split(","):
        n, w = steps[model]
        torch_ms, nnc_ms, nnc_last = [], [], None
        for _ in range(args.rounds):
            if have_torch:
                torch_ms.append(torch_step_ms(model, args.threads, n, w)[0])
            nnc_last = nnc_bench(args.nnc, MODELS[model], args.threads, n, w)
            nnc_ms.append(nnc_last["step_ms_median"])
        row = {
            "model": model,
            "threads": args.threads,
            "nnc_step_ms": statistics.median(nnc_ms),
            "nnc_compile_ms": nnc_last["compile_ms"],
            "nnc_kernels": nnc_last["kernels"],
            "nnc_peak_bytes": nnc_last["peak_bytes"],
        }
        if have_torch:
            row["torch_step_ms"] = statistics.median(torch_ms)
            row["speedup"] = row["torch_step_ms"] / row["nnc_step_ms"]
        rows.append(row)
        if args.json:
            print(json.dumps(row))
    if not args.json:
        print(f"{'model':<6} {'threads':>7} {'torch ms':>10} {'nnc ms':>10} {'speedup':>8} {'compile ms':>11}")
        for r in rows:
            t = f"{r['torch_step_ms']:10.3f}" if "torch_step_ms" in r else f"{'-':>10}"
            s = f"{r['speedup']:7.2f}x" if "speedup" in r else f"{'-':>8}"
            print(f"{r['model']:<6} {r['threads']:>7} {t} {r['nnc_step_ms']:10.3f} {s} {r['nnc_compile_ms']:11.1f}")


if __name__ == "__main__":
    main()
