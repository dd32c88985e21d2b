// swift-tools-version: 6.2
// 6.2 is the first tools version whose packages may use unsafeFlags and still
// be depended on by version (checked: a consumer with `from:` builds and runs).
import PackageDescription
import Foundation

// The MPI part (CMPI, AxonMPI, axon-mpi) is declared only where Open MPI's
// pkg-config file is installed (Debian: libopenmpi-dev), so that `swift build`
// and `swift build --build-tests` work without MPI: SwiftPM only warns about a
// system library whose pkg-config is missing, but every target importing it then
// fails to compile (mpi.h not found), and --build-tests builds every target.
// AXON_MPI=0 or 1 overrides the detection. SwiftPM caches the evaluated
// manifest keyed by its text and the environment, not by files appearing: after
// installing Open MPI build with AXON_MPI=1 (the Makefile always sets it).
let mpiAvailable: Bool = {
    if let forced = ProcessInfo.processInfo.environment["AXON_MPI"] { return forced == "1" }
    let dirs = (ProcessInfo.processInfo.environment["PKG_CONFIG_PATH"] ?? "").split(separator: ":").map(String.init)
        + ["/usr/lib/x86_64-linux-gnu/pkgconfig", "/usr/lib/aarch64-linux-gnu/pkgconfig", "/usr/lib/pkgconfig",
           "/usr/lib64/pkgconfig", "/usr/local/lib/pkgconfig", "/usr/share/pkgconfig", "/opt/homebrew/lib/pkgconfig"]
    return dirs.contains { FileManager.default.fileExists(atPath: $0 + "/ompi-c.pc") }
}()

// C flags for the kernels, and why:
//  -O3                  SwiftPM compiles C at -O0 in debug builds; kernels must be fast in tests too.
//  -march=x86-64-v3     AVX2+FMA: ~1.65x on elementwise kernels; -march=native (AVX-512 here)
//                       added nothing measurable and would break on other x86-64 CPUs.
//  -fopenmp             the pragmas; the runtime is Debian's libomp (linked as omp5, see module.modulemap).
//  -fno-math-errno      lets expf/logf vectorise ...
//  -fveclib=libmvec     ... through glibc's vector math library (LSTM cell ~1.7x). clang does not
//                       map tanhf this way: activation.c calls glibc's 8-lane tanhf directly
//                       (~15x on 1.6M values) and lstm.c builds tanh from expf.
//  Reductions are vectorised per loop with `#pragma clang fp reassociate(on)`, not -ffast-math,
//  so NaN checks and IEEE semantics elsewhere stay intact.
let ckernelsFlags: [CSetting] = [
    .unsafeFlags(["-O3", "-march=x86-64-v3", "-fopenmp", "-fno-math-errno", "-fveclib=libmvec"]),
]

let package = Package(
    name: "Axon",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Axon", targets: ["Axon"]),
        .library(name: "AxonPlot", targets: ["AxonPlot"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .executable(name: "axon", targets: ["axon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: "CKernels",
            exclude: [],
            publicHeadersPath: "include",
            cSettings: ckernelsFlags,
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("omp5"),
                .linkedLibrary("mvec"),
                .linkedLibrary("z"),
                .linkedLibrary("png16"),
                .linkedLibrary("jpeg"),
                .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "Axon",
            dependencies: ["CKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/Axon"
        ),
        // Learning curves, feature maps and confusion matrices as PNG files
        // (a small raster canvas): pictures of training, not part of training.
        .target(name: "AxonPlot", dependencies: ["Axon"], path: "Sources/AxonPlot"),
        // The CLI's commands, shared by `axon` and `axon-mpi`.
        .target(
            name: "AxonCLI",
            dependencies: ["Axon", "AxonPlot", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/axon"
        ),
        .executableTarget(
            name: "axon",
            dependencies: ["AxonCLI"],
            path: "Sources/axon-main"
        ),
        // The naive references the kernel tests compare the fast kernels against:
        // test-only, never in the library (nor in `make lib`'s libckernels).
        .target(
            name: "CKernelsReference",
            dependencies: ["CKernels"],
            path: "Tests/CKernelsReference",
            publicHeadersPath: "include"
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels", "CKernelsReference"],
            path: "Tests/CKernelsTests"
        ),
        .testTarget(
            name: "AxonTests",
            dependencies: ["Axon", "AxonPlot", "CKernels"],
            path: "Tests/AxonTests"
        ),
    ]
)

if mpiAvailable {
    package.products += [
        .library(name: "AxonMPI", targets: ["AxonMPI"]),
        .executable(name: "axon-mpi", targets: ["axon-mpi"]),
    ]
    package.targets += [
        // Open MPI's C API; shim.h gives Swift the handles that are macros in mpi.h.
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["openmpi-bin", "libopenmpi-dev"]), .brew(["open-mpi"])]
        ),
        .target(name: "AxonMPI", dependencies: ["Axon", "CMPI"], path: "Sources/AxonMPI"),
        .executableTarget(name: "axon-mpi", dependencies: ["AxonCLI", "AxonMPI"], path: "Sources/axon-mpi"),
    ]
}
