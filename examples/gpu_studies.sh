#!/usr/bin/env bash
# The GPU-sized studies of the images and modular-addition tasks, as run once on an H100
# (see README, "Runs on a GPU"). Each command is bounded by `timeout` so the whole script
# fits one lease; OUT is the folder the files go to.
#   OUT=out/gpu bash examples/gpu_studies.sh
set -u
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
rd() {  # rd SECONDS ARGS...: one bounded reduced-dynamics command, timed
    local limit=$1 start=$SECONDS rc
    shift
    echo "+ reduced-dynamics $*"
    timeout "$limit" python3 -m reduced_dynamics "$@"
    rc=$?
    echo "  (exit $rc after $((SECONDS - start)) s)"
}

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
# Issue 10: probe throughput on the GPU, with a CPU baseline in the same run
timeout 50 python benchmarks/bench_probe.py --device cuda --members 651 --steps 300 \
    --cpu-baseline-members 64 --threads 8 | tee "$OUT/bench_probe.txt"
# Issue 12, Fig. 7a and 10a: Nanda's transformer, a gamma sweep as one batched model
rd 160 train modular-addition --preset nanda --gamma 1,2,4,8 --seeds 0,1 \
    --alpha0 1 --steps 12000 --n-log 300 --device cuda -q -o "$OUT/nanda_gamma.nc"
# Issue 12, Fig. 7b: constrained norm at alpha 0.8, no weight decay
rd 45 train modular-addition --preset nanda --constrain-norm --alpha0 0.8 \
    --gamma 0 --seeds 1 --steps 6000 --n-log 200 --device cuda -q -o "$OUT/nanda_constrained.nc"
# Issue 11, Fig. 3a,b: the (w, N) landscape of Fashion-MNIST (MSE), minibatch 100
rd 110 probe images --preset fashion-mse --alpha log:0.1:100:11 \
    --n-train log:10:60000:9 --steps 8000 --batch-size 100 --chunk-size 99 \
    --device cuda -q -o "$OUT/fashion_mse.nc"
# Issue 12, Fig. 9: alpha x training fraction (0.1 .. 0.9 of the 12769 pairs)
rd 70 probe modular-addition --preset nanda-fractions --alpha log:0.1:4:6 \
    --n-train lin:1277:11492:6 --steps 1500 --chunk-size 36 --device cuda -q \
    -o "$OUT/nanda_fractions.nc"
ls -la "$OUT"
