#!/usr/bin/env bash
# Which of Axon's own kernels would gain from AVX-512: builds CKernels twice,
# for x86-64-v3 (AVX2+FMA, what the package ships, forced to its AVX2 versions)
# and for x86-64-v4 with 512-bit vectors preferred (every loop AVX-512), and
# times each kernel at the models' shapes in both, alternately, one thread,
# best of ROUNDS (default 7). Prints microseconds and the ratio v3/v4 (> 1: AVX-512
# faster). Needs an AVX-512 CPU. Kernels that win here get an AVX-512 version
# through CK_ISA_VERSIONS (CKernels/internal.h); see Benchmarks/README.md.
#   tools/isa/compare.sh [ROUNDS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build/isa
mkdir -p "$OUT/v3" "$OUT/v4"
CC=${CC:-clang}
FLAGS=(-O3 -fopenmp -fno-math-errno -fveclib=libmvec -fPIC -I"$ROOT/CKernels/include" -I"$ROOT/CKernels")
LIBS=(-lopenblas -l:libomp.so.5 -lmvec -lz -lpng16 -ljpeg -lm)
build() { # dir flags...
    local dir=$1; shift
    (cd "$dir" && for f in "$ROOT"/CKernels/*.c; do "$CC" "${FLAGS[@]}" "$@" -c "$f"; done)
    "$CC" -shared "$dir"/*.o -o "$dir/libckernels.so" "${LIBS[@]}"
}
build "$OUT/v3" -march=x86-64-v3
build "$OUT/v4" -march=x86-64-v4 -mprefer-vector-width=512
"$CC" -O2 -I"$ROOT/CKernels/include" "$ROOT/tools/isa/kernels.c" -o "$OUT/kernels" -ldl
OMP_NUM_THREADS=1 "$OUT/kernels" "$OUT/v3/libckernels.so" "$OUT/v4/libckernels.so" "${1:-7}"
