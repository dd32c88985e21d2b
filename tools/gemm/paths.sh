#!/usr/bin/env bash
# sgemm GFLOP/s of every GEMM path this CPU runs at the models' products, on 1
# and 2 threads (paths.c). Builds CKernels as tools/isa/compare.sh does. Run it
# again with OPENBLAS_CORETYPE=<core> exported to time another OpenBLAS core
# (Haswell or Zen: what OpenBLAS runs on an AVX2 CPU).
#   tools/gemm/paths.sh [THREADS...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/gemm
mkdir -p "$OUT/obj"
CC=${CC:-clang}
(cd "$OUT/obj" && for f in "$ROOT"/CKernels/*.c; do
    "$CC" -O3 -march=x86-64-v3 -fopenmp -fno-math-errno -fveclib=libmvec -I"$ROOT/CKernels/include" \
        -I"$ROOT/CKernels" -c "$f"
done)
"$CC" -O2 -I"$ROOT/CKernels/include" "$ROOT/tools/gemm/paths.c" "$OUT"/obj/*.o -o "$OUT/paths" \
    -lopenblas -l:libomp.so.5 -lmvec -lz -lpng16 -ljpeg -lm
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
for t in "${threads[@]}"; do "$OUT/paths" "$t"; echo; done
