# The commands the README names. `make demo` and `make test` do all set-up on a
# fresh Debian bookworm machine (they run `deps`, which installs what is missing): Debian's
# packages for the C++ side, and a venv (.venv) with the pip torch of requirements.txt, which
# CMake builds against and the trainer links.
BUILD      ?= build
JOBS       ?= $(shell nproc)
VENV       := .venv
PYTHON     := $(VENV)/bin/python
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TRAINER    := $(BUILD)/trainer/skiptrain

# Every Debian package the project needs: build, tests, benchmarks and the demo data.
# (The CUDA kernels also need the CUDA toolkit's nvcc, which Debian does not ship: CMake compiles
# them where it finds one, as torch's own CMake config requires for its CUDA wheel.)
DEB_PACKAGES := build-essential cmake ninja-build ccache libcli11-dev libgtest-dev libbenchmark-dev \
  nlohmann-json3-dev zlib1g-dev libssl-dev libgloo-dev python3-venv dataset-fashion-mnist
# Only `make fuzz` needs these (libFuzzer comes with clang's runtime; llvm has llvm-symbolizer).
FUZZ_PACKAGES := clang libclang-rt-dev llvm

FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
ASAN_BUILD   ?= build-asan
# Third-party leak suppressions, and UBSan stopping at its first report.
SANITIZER_ENV := LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The checkpoint fuzzer reaches LibTorch's leak; the suppression matches only on whole stacks through
# LibTorch (built without frame pointers): slow unwinding, which makes each GoogleTest binary start in
# 4.7 s instead of 1.9 s, so for make fuzz only (no test of the suite reaches that leak).
FUZZ_ENV := $(SANITIZER_ENV) ASAN_OPTIONS=fast_unwind_on_malloc=0

.PHONY: deps fuzz-deps build venv test test-cpp test-python test-asan fuzz demo bench clean

# Installs the Debian packages of $(1) that are missing ($(2) names the target in the message).
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	else echo "$(2): all Debian packages present"; fi
endef

deps:
	$(call apt_install,$(DEB_PACKAGES),deps)
	@$(MAKE) --no-print-directory $(VENV)/.requirements-installed

# The venv's packages, reinstalled when requirements.txt changes (pip's cache serves the torch
# wheel after the first download).
$(VENV)/.requirements-installed: requirements.txt
	[ -x $(PYTHON) ] || /usr/bin/python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKIPTRAIN_PYTHON=$(abspath $(PYTHON))

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The Python package installed into the venv, from the same build.
venv: build
	SKIPTRAIN_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON) -m pip install -q --disable-pip-version-check \
	  --no-build-isolation --no-deps --no-index .

test-cpp: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-python: venv
	cd tests/python && SKIPTRAIN_TRAINER=$(abspath $(TRAINER)) ../../$(PYTHON) -m pytest -q

test: test-cpp test-python

# The GoogleTest suite built with AddressSanitizer and UBSan (see README, "Testing").
test-asan: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSKIPTRAIN_SANITIZE=ON -DSKIPTRAIN_BUILD_BENCHMARKS=OFF -DSKIPTRAIN_WITH_CUDA=OFF -DSKIPTRAIN_PYTHON=$(abspath $(PYTHON))
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(SANITIZER_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

fuzz-deps:
	$(call apt_install,$(FUZZ_PACKAGES),fuzz-deps)

# libFuzzer on the IDX, CIFAR and checkpoint readers, FUZZ_SECONDS each (README, "Testing").
fuzz: deps fuzz-deps
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKIPTRAIN_FUZZ=ON -DSKIPTRAIN_PYTHON=$(abspath $(PYTHON))
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	$(FUZZ_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD)

# LeNet-5 on Fashion-MNIST, accuracy against wall-clock: dense and eif+emp, each trained under budgets
# of 1, 2 and 4 epochs; a table and plots in runs/demo.
demo: build
	$(PYTHON) benchmarks/pareto.py --preset demo --trainer $(TRAINER) --threads $(JOBS)

# The README's Results: skiptrain against plain PyTorch, then the methods against dense.
# OpenMP's default (spinning) wait policy: right on a quiet machine, which benchmarks need anyway.
bench: build
	$(PYTHON) benchmarks/compare_pytorch.py --trainer $(TRAINER) --repeats 3 --threads $(JOBS) \
	  --resnet-iterations 100 --omp-wait-policy '' --out benchmarks/results/pytorch_vs_skiptrain.md
	$(PYTHON) benchmarks/compare_methods.py --trainer $(TRAINER) --seeds 0,1 \
	  --title "Early Instance Filter: LeNet-5 on MNIST, 3 epochs, R_set 0.25" \
	  --common "--model lenet5 --dataset mnist --data-dir ../shared/data/mnist --epochs 3 --batch-size 64 --lr 0.01 --momentum 0.9 --eval-every 0" \
	  --run "dense=--method sgd" --run "eif=--method eif --eif-ratio 0.25" \
	  --run "eif+emp=--method eif+emp --eif-ratio 0.25 --emp-keep 0.5" --out benchmarks/results/eif_lenet_mnist.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) python/skiptrain/lib
