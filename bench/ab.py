#!/usr/bin/env python3
"""A/B comparison of two nnc binaries on the seed models.

Runs `nnc bench --json` of binary A and binary B on each model, alternating
A and B for several rounds so that load from other processes hits both
alike, and prints per model the median over rounds of each side's median
step time and compile time, with the ratio B / A.

    python3 bench/ab.py OLD_NNC NEW_NNC [--rounds 5] [--steps 50] [--threads 1]

Use it to show that a change that should not alter generated code (a
refactor) leaves step and compile times unchanged within noise.
"""

import argparse
import json
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "mlp": ROOT / "examples" / "mnist_mlp.nn",
    "cnn": ROOT / "examples" / "mnist_cnn.nn",
    "lstm": ROOT / "examples" / "mnist_lstm.nn",
    "transformer": ROOT / "examples" / "mnist_transformer.nn",
}


def bench(binary, model, steps, threads):
    """One `nnc bench --json` run: (median step ms, compile ms)."""
    out = subprocess.run(
        [binary, "bench", str(model), "--json", "--steps", str(steps), "--threads", str(threads)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    report = json.loads(out)
    return report["step_ms_median"], report["compile_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", help="the baseline nnc binary")
    parser.add_argument("b", help="the nnc binary to compare")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    print(f"rounds {args.rounds}, {args.steps} steps, {args.threads} thread(s); medians over rounds")
    print(f"{'model':12} {'A step ms':>10} {'B step ms':>10} {'B/A':>6} {'A compile':>10} {'B compile':>10} {'B/A':>6}")
    for name in args.models.split(","):
        model = MODELS[name]
        runs = {"a": [], "b": []}
        for r in range(args.rounds):
            # Alternate which side goes first, so neither always runs warm.
            order = ("a", "b") if r % 2 == 0 else ("b", "a")
            for side in order:
                runs[side].append(bench(getattr(args, side), model, args.steps, args.threads))
        step = {s: statistics.median(x[0] for x in runs[s]) for s in runs}
        comp = {s: statistics.median(x[1] for x in runs[s]) for s in runs}
        print(
            f"{name:12} {step['a']:10.3f} {step['b']:10.3f} {step['b'] / step['a']:6.3f}"
            f" {comp['a']:10.1f} {comp['b']:10.1f} {comp['b'] / comp['a']:6.3f}"
        )


if __name__ == "__main__":
    main()
