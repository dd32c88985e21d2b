# Axon — make run (set-up + train LeNet-5 on Fashion-MNIST) and make test.
SHELL := /bin/bash
PREFIX ?= /usr/local
DEB_PACKAGES := libopenblas-dev libomp-dev zlib1g-dev libpng-dev dataset-fashion-mnist
SWIFT ?= swift
EPOCHS ?= 5

.PHONY: deps build release test run lib install bench clean

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

test: deps
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build

run: release
	$(SWIFT) run -c release --skip-build axon train --model lenet5 --epochs $(EPOCHS)

clean:
	rm -rf .build build
