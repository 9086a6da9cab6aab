# The commands the README names. `make demo` and `make test` do all set-up on a
# fresh Debian bookworm machine (they run `deps`, which installs what is missing).
BUILD      ?= build
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3
VENV       := .venv
VENV_PY    := $(VENV)/bin/python
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TRAINER    := $(BUILD)/trainer/skiptrain

# Every Debian package the project needs: build, tests, benchmarks and the demo data.
DEB_PACKAGES := build-essential cmake ninja-build ccache libtorch-dev python3-torch \
  pybind11-dev libcli11-dev libgtest-dev libbenchmark-dev nlohmann-json3-dev zlib1g-dev \
  python3-pytest python3-numpy python3-matplotlib python3-venv python3-pip python3-setuptools \
  libopenblas0-pthread dataset-fashion-mnist

.PHONY: deps build venv test test-cpp test-python demo bench clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	else echo "deps: all Debian packages present"; fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The Python package installed into a venv that sees Debian's torch, from the same build.
venv: build
	[ -x $(VENV_PY) ] || $(PYTHON) -m venv --system-site-packages $(VENV)
	SKIPTRAIN_BUILD_DIR=$(abspath $(BUILD)) $(VENV_PY) -m pip install -q --no-build-isolation --no-deps --no-index .

test-cpp: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-python: venv
	cd tests/python && SKIPTRAIN_TRAINER=$(abspath $(TRAINER)) ../../$(VENV_PY) -m pytest -q

test: test-cpp test-python

# LeNet-5 on Fashion-MNIST, dense and EIF+EMP side by side (3 epochs each): a table and plots in runs/demo.
demo: build
	$(PYTHON) benchmarks/reproduce.py --preset demo --trainer $(TRAINER)

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
	rm -rf $(BUILD) $(VENV) python/skiptrain/lib
