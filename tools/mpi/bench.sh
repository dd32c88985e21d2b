#!/usr/bin/env bash
# Data-parallel training speed (make bench-mpi): LeNet-5 on Fashion-MNIST with
# batch 64 (global), one epoch of warm-up then one measured, on 1, 2 and 4
# ranks (more ranks than cores are oversubscribed); kernel threads per rank =
# cores / ranks (at least 1). Prints images/s, the gradient allreduce's
# time per step in training (waiting for the slowest rank included) and the
# allreduce alone (tools/mpi/allreduce.c: same buffer, after a barrier).
#   tools/mpi/bench.sh [--limit N] [--ranks "1 2 4"] [--model M]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release}
LIMIT=12000 RANKS="1 2 4" MODEL=lenet5
while [ $# -gt 0 ]; do
    case $1 in
        --limit) LIMIT=$2; shift 2 ;;
        --ranks) RANKS=$2; shift 2 ;;
        --model) MODEL=$2; shift 2 ;;
        *) echo "bench.sh: unknown option $1"; exit 2 ;;
    esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $cores cores; $(mpirun --version | head -1)"
echo "$MODEL, $LIMIT images, batch 64, epoch 2 of 2 measured"
mkdir -p build
mpicc -O2 tools/mpi/allreduce.c -o build/allreduce
printf "%-6s %-8s %-10s %-24s %s\n" ranks threads images/s "allreduce ms/step (%)" "allreduce alone ms"
for np in $RANKS; do
    threads=$(( cores / np )); [ $threads -ge 1 ] || threads=1
    out=$(mpirun --oversubscribe --bind-to none -np "$np" "$BIN/axon-mpi" train --model "$MODEL" --limit "$LIMIT" \
          --batch-size 64 --epochs 2 --threads "$threads" --distributed 2>&1 | tr '\r' '\n')
    rate=$(echo "$out" | grep "epoch 2/2 .*train acc" | sed 's/.*  \([0-9]*\) images\/s.*/\1/' || true)
    # "N ranks: S allreduces, X ms each, P% of the training time (rank 0)"
    reduce=$(echo "$out" | grep "ranks: .* allreduces" | sed 's/.*, \([0-9.]*\) ms each, \([0-9.]*\)%.*/\1 (\2%)/' || true)
    alone=$(mpirun --oversubscribe --bind-to none -np "$np" build/allreduce)
    printf "%-6s %-8s %-10s %-24s %s\n" "$np" "$threads" "${rate:-?}" "${reduce:-?}" "$alone"
done
