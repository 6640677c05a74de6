#!/bin/sh
# The GPU run of the CUDA back end, as one script (a few minutes on an
# H100/H200): parity with the CPU back end over 20 training steps of the
# seed MLP and CNN, 4096^3 product throughput, training the MLP and CNN
# examples to their accuracy, and `nnc bench` of every seed model on the
# GPU and, for comparison, the CPU.
#
# Build on any machine first (no CUDA toolkit needed; the driver is loaded
# at run time), then copy the two binaries and the repository's examples/
# and data/ to the GPU machine:
#
#   CARGO_PROFILE_RELEASE_DEBUG=0 cargo build --release --features cuda
#   CARGO_PROFILE_RELEASE_DEBUG=0 cargo test --release --features cuda --test gpu --no-run
#   bench/gpu_check.sh [OUT_DIR]        # on the GPU machine, from the repository root
#
# Results go to OUT_DIR (default gpu-check/); docs/PERFORMANCE.md records them.
set -eu
NNC=${NNC:-target/release/nnc}
GPU_TEST=${GPU_TEST:-$(ls -t target/release/deps/gpu-* 2>/dev/null | grep -v '\.d$' | head -n 1)}
OUT=${1:-gpu-check}
mkdir -p "$OUT"
[ -x "$NNC" ] || { echo "no nnc binary at $NNC (build it with --features cuda)" >&2; exit 1; }
[ -n "$GPU_TEST" ] || { echo "no gpu test binary under target/release/deps (cargo test --features cuda --test gpu --no-run)" >&2; exit 1; }
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed" >> "$OUT/nvidia-smi.txt"

echo "== parity with the CPU back end, product throughput"
"$GPU_TEST" --ignored --nocapture --test-threads 1 2>&1 | tee "$OUT/parity_and_gemm.txt"

for m in mlp cnn; do
    echo "== training mnist_$m on the GPU"
    "$NNC" run "examples/mnist_$m.nn" --backend cuda --no-save --log-json "$OUT/train_$m.jsonl" 2>&1 | tee "$OUT/train_$m.txt"
done

for m in mlp cnn lstm transformer; do
    for b in cuda cpu; do
        echo "== bench mnist_$m on $b"
        "$NNC" bench "examples/mnist_$m.nn" --backend "$b" --steps 50 --json > "$OUT/bench_${b}_$m.json" 2> "$OUT/bench_${b}_$m.err" || echo "failed: see $OUT/bench_${b}_$m.err"
        cat "$OUT/bench_${b}_$m.json"
    done
done
