/*
 * What the machine can do, decided once at load: the widest ISA the CPU and
 * OS support (cpuid, xgetbv), the core OpenBLAS picked, and from the two the
 * GEMM path (ck_gemm_path in ckernels.h). OpenBLAS reads its core type in its
 * own constructor, before ours runs, so its choice is known here; when it is
 * older than the CPU (Debian's 0.3.21 runs "Prescott" SSE code on CPUs it
 * does not recognise) Axon's own kernels take over. On an AVX-512 CPU they
 * run whatever OpenBLAS picked: Axon's 8x32 AVX-512 kernel measured faster
 * than OpenBLAS's own AVX-512 (Cooperlake) kernels on the models' products
 * (README, "the GEMM path"); on AVX2 CPUs OpenBLAS's Haswell/Zen kernels
 * stay, which measured as fast as or faster than Axon's 6x16 one.
 */
#include <cpuid.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

char *openblas_get_corename(void);

/* ISA levels, for the CPU and for OpenBLAS's kernels alike. */
enum { ISA_GENERIC = 0, ISA_AVX = 1, ISA_AVX2 = 2, ISA_AVX512 = 3 };

static int cpu_level(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return ISA_GENERIC;
    const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return ISA_GENERIC;
    unsigned xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0x6) != 0x6) return ISA_GENERIC; /* the OS saves no YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return ISA_AVX;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    if (!avx2 || !fma) return ISA_AVX;
    const int avx512 = ((b >> 16) & 1) /* F */ && ((b >> 17) & 1) /* DQ */ &&
                       ((b >> 30) & 1) /* BW */ && ((b >> 31) & 1) /* VL */;
    if (avx512 && (xlo & 0xe6) == 0xe6) return ISA_AVX512; /* opmask, ZMM state */
    return ISA_AVX2;
}

static int name_is(const char *name, const char *const *list) {
    for (; *list; list++) {
        const char *p = name, *q = *list;
        while (*p && *q && tolower((unsigned char)*p) == *q) p++, q++;
        if (!*p && !*q) return 1;
    }
    return 0;
}

/* The ISA OpenBLAS's sgemm kernels for a core use; unknown names count as
 * generic, so an unfamiliar build never hides behind its name. */
static int blas_level(const char *core) {
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    static const char *const avx2[] = {"haswell", "zen", NULL};
    static const char *const avx[] = {"sandybridge", "bulldozer", "piledriver",
                                      "steamroller", "excavator", NULL};
    if (!core) return ISA_GENERIC;
    if (name_is(core, avx512)) return ISA_AVX512;
    if (name_is(core, avx2)) return ISA_AVX2;
    if (name_is(core, avx)) return ISA_AVX;
    return ISA_GENERIC;
}

static int cpu_isa = -1;   /* ISA_* */
static int auto_path = -1; /* the choice made at load */
static int gemm_path = -1; /* the path in use */
static int auto_isa = -1;  /* the widest ck_isa the CPU runs */
int ck_isa_in_use = -1;    /* the ck_isa in use (internal.h: ck_use_avx512) */

static int widest_axon_path(void) { return cpu_isa >= ISA_AVX512 ? CK_GEMM_AVX512 : CK_GEMM_AVX2; }

__attribute__((constructor)) static void machine_init(void) {
    const int isa = cpu_level();
    __atomic_store_n(&cpu_isa, isa, __ATOMIC_RELAXED);
    int path = CK_GEMM_BLAS;
    if (isa >= ISA_AVX512 || (isa >= ISA_AVX2 && blas_level(openblas_get_corename()) < isa))
        path = widest_axon_path();
    const char *env = getenv("AXON_GEMM");
    if (env && strcmp(env, "blas") == 0) path = CK_GEMM_BLAS;
    if (env && strcmp(env, "axon") == 0 && isa >= ISA_AVX2) path = widest_axon_path();
    if (env && strcmp(env, "avx2") == 0 && isa >= ISA_AVX2) path = CK_GEMM_AVX2;
    __atomic_store_n(&auto_path, path, __ATOMIC_RELAXED);
    __atomic_store_n(&gemm_path, path, __ATOMIC_RELAXED);
    const int widest = isa >= ISA_AVX512 ? CK_ISA_AVX512 : CK_ISA_AVX2;
    const char *isa_env = getenv("AXON_ISA");
    __atomic_store_n(&auto_isa, widest, __ATOMIC_RELAXED);
    __atomic_store_n(&ck_isa_in_use, isa_env && strcmp(isa_env, "avx2") == 0 ? CK_ISA_AVX2 : widest,
                     __ATOMIC_RELAXED);
}

int ck_gemm_get_path(void) {
    int p = __atomic_load_n(&gemm_path, __ATOMIC_RELAXED);
    if (p < 0) { /* called before the constructors ran */
        machine_init();
        p = __atomic_load_n(&gemm_path, __ATOMIC_RELAXED);
    }
    return p;
}

int ck_gemm_path_supported(int path) {
    ck_gemm_get_path();
    switch (path) {
    case CK_GEMM_BLAS: return 1;
    case CK_GEMM_AVX2: return cpu_isa >= ISA_AVX2;
    case CK_GEMM_AVX512: return cpu_isa >= ISA_AVX512;
    default: return 0;
    }
}

int ck_gemm_set_path(int path) {
    ck_gemm_get_path();
    if (path == CK_GEMM_AUTO) path = auto_path;
    CHECK(ck_gemm_path_supported(path));
    __atomic_store_n(&gemm_path, path, __ATOMIC_RELAXED);
    return CK_OK;
}

int ck_isa_get(void) {
    ck_gemm_get_path(); /* runs machine_init if the constructors have not */
    return __atomic_load_n(&ck_isa_in_use, __ATOMIC_RELAXED);
}

int ck_isa_supported(int isa) {
    ck_gemm_get_path();
    return isa == CK_ISA_AVX2 || (isa == CK_ISA_AVX512 && cpu_isa >= ISA_AVX512);
}

int ck_isa_set(int isa) {
    ck_gemm_get_path();
    if (isa == CK_ISA_AUTO) isa = auto_isa;
    CHECK(ck_isa_supported(isa));
    __atomic_store_n(&ck_isa_in_use, isa, __ATOMIC_RELAXED);
    return CK_OK;
}

/* The CPU's brand string (cpuid 0x80000002-4), trimmed. */
static void cpu_model(char *out, size_t size) {
    unsigned r[12] = {0};
    if (__get_cpuid_max(0x80000000, NULL) < 0x80000004) {
        snprintf(out, size, "unknown x86-64 CPU");
        return;
    }
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char s[49];
    memcpy(s, r, 48);
    s[48] = 0;
    char *p = s;
    while (*p == ' ') p++;
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ') p[--n] = 0;
    unsigned a, b, c, d;
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf) model += ((a >> 16) & 0xf) << 4;
    snprintf(out, size, "%s (family %u, model %u)", p, family, model);
}

int ck_machine_info(char *buf, size_t size) {
    CHECK(buf != NULL && size > 0);
    const int path = ck_gemm_get_path();
    char model[96];
    cpu_model(model, sizeof model);
    static const char *const isa_names[] = {"SSE only", "AVX", "AVX2+FMA", "AVX-512"};
    const char *core = openblas_get_corename();
    if (!core) core = "unknown";
    char gemm[96];
    if (path == CK_GEMM_BLAS)
        snprintf(gemm, sizeof gemm, "OpenBLAS %s kernels", core);
    else
        snprintf(gemm, sizeof gemm, "Axon %s kernels (OpenBLAS core %s%s)",
                 path == CK_GEMM_AVX512 ? "AVX-512" : "AVX2+FMA", core,
                 path == auto_path ? "" : ", forced");
    const int procs = ck_imax(1, omp_get_num_procs()), isa = ck_isa_get();
    const char *kernels = isa == CK_ISA_AVX512 ? "AVX-512" : "AVX2+FMA";
    char isa_text[64];
    if (isa == auto_isa)
        snprintf(isa_text, sizeof isa_text, "%s", kernels);
    else
        snprintf(isa_text, sizeof isa_text, "%s CPU, %s kernels (forced)", isa_names[cpu_isa < 0 ? 0 : cpu_isa],
                 kernels);
    snprintf(buf, size, "%s, %d core%s, %s, GEMM: %s", model, procs, procs == 1 ? "" : "s", isa_text, gemm);
    return CK_OK;
}
