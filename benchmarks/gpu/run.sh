#!/usr/bin/env bash
# The GPU check, in one call of at most 8 minutes, from the repository root on a bare GPU machine
# (torch, nvcc, CMake and ninja; no GoogleTest, CLI11, nlohmann-json or OpenSSL's headers:
# benchmarks/gpu/prepare.sh put their Debian packages and a CIFAR-10 subset into .gpu/ on the
# development machine, and that folder travels with the call). Builds skiptrain with its CUDA kernels,
# reports how its C++ runtime binds in Python (link_check.py: pytest's error paths crashed there),
# runs the whole test suite (ctest, pytest: the GPU tests run here), then the GPU benchmarks. The
# result tables and summary.md go to $OUT (default runs/gpu), the logs as logs.tar.gz (a device
# call returns at most 8 files). DEADLINE (s) cuts the benchmarks, PYTEST_TIMEOUT (s) pytest.
set -uo pipefail
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
LOGS=$(mktemp -d)
mkdir -p "$OUT"
trap 'tar czf "$OUT/logs.tar.gz" -C "$LOGS" .' EXIT
start=$(date +%s)
note() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$OUT/summary.md"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/GPU: /' | tee "$OUT/summary.md"
note "torch $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)'), $(nvcc --version | tail -1)"

# 1. What the machine lacks, unpacked from the carried Debian packages (zlib, libcrypto: the
# system's libraries; the carried headers only where the system has none).
PREFIX=/tmp/skiptrain-deps
mkdir -p "$PREFIX"
for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$PREFIX"; done
zlib=(-DZLIB_LIBRARY=$(ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1))
if [ -f /usr/include/zlib.h ]; then rm -f "$PREFIX/usr/include/zlib.h" "$PREFIX/usr/include/zconf.h";
else zlib+=(-DZLIB_INCLUDE_DIR="$PREFIX/usr/include"); fi
# libssl-dev's libcrypto.so links to a libcrypto.so.3 it does not carry, and its static archives must
# not be linked: name the system's libcrypto.so.3. Its multiarch headers (opensslconf.h,
# configuration.h) go beside the others, where the compiler finds them under OPENSSL_INCLUDE_DIR.
rm -f "$PREFIX"/usr/lib/x86_64-linux-gnu/lib{crypto,ssl}.{so,a}
crypto=(-DOPENSSL_CRYPTO_LIBRARY=$(ls /usr/lib/x86_64-linux-gnu/libcrypto.so.3 /lib/x86_64-linux-gnu/libcrypto.so.3 2>/dev/null | head -1))
if [ -f /usr/include/openssl/evp.h ]; then rm -rf "$PREFIX/usr/include/openssl" "$PREFIX/usr/include/x86_64-linux-gnu/openssl";
else cp "$PREFIX"/usr/include/x86_64-linux-gnu/openssl/*.h "$PREFIX/usr/include/openssl/";
  crypto+=(-DOPENSSL_INCLUDE_DIR="$PREFIX/usr/include"); fi

# 2. Build.
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKIPTRAIN_PYTHON="$(command -v $PY)" \
  -DCMAKE_PREFIX_PATH="$PREFIX/usr" -DSKIPTRAIN_BUILD_BENCHMARKS=OFF "${zlib[@]}" "${crypto[@]}" > "$LOGS/build.log" 2>&1 &&
  cmake --build build-gpu -j "$(nproc)" >> "$LOGS/build.log" 2>&1
build_rc=$?
note "build: exit $build_rc ($(grep -c 'cuda/.*\.cu' build-gpu/build.ninja 2>/dev/null) CUDA build lines)"
[ $build_rc -eq 0 ] || { tail -40 "$LOGS/build.log"; exit 1; }

# 3. Tests: the link report, the C++ suite, then pytest against this build (the trainer and
# libskiptrain of build-gpu).
export SKIPTRAIN_LIBRARY=$PWD/build-gpu/libskiptrain.so SKIPTRAIN_TRAINER=$PWD/build-gpu/trainer/skiptrain
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
timeout 180 $PY benchmarks/gpu/link_check.py --out "$OUT/gpu_link_check.md" > "$LOGS/link_check.log" 2>&1
note "link_check: exit $? ($(grep -c '^- ' "$OUT/gpu_link_check.md" 2>/dev/null) findings in gpu_link_check.md)"
grep -E '^- (g\+\+|a one-line|/|global|torch.ops|import)' "$OUT/gpu_link_check.md" | tee -a "$OUT/summary.md"
timeout 120 ctest --test-dir build-gpu -j 12 --timeout 100 --output-on-failure > "$LOGS/ctest.log" 2>&1
note "ctest: $(grep -E 'tests passed|tests failed' "$LOGS/ctest.log" | tail -1)"
grep -E '\((Failed|SEGFAULT|Timeout|Subprocess aborted)\)' "$LOGS/ctest.log" | head -20 | tee -a "$OUT/summary.md"
xdist=$($PY -c 'import xdist' 2>/dev/null && echo "-n 12")
(cd tests/python && timeout -k 10 "${PYTEST_TIMEOUT:-200}" $PY -m pytest -q -p no:cacheprovider $xdist -rfE) > "$LOGS/pytest.log" 2>&1
note "pytest: $(tail -1 "$LOGS/pytest.log")"
grep -E '^(FAILED|ERROR)' "$LOGS/pytest.log" | head -20 | tee -a "$OUT/summary.md"

# 4. Benchmarks, most important first, each cut off so that the whole script ends by DEADLINE s.
DEADLINE=${DEADLINE:-470}
left() { local l=$((DEADLINE - ($(date +%s) - start))); echo $((l > 5 ? l : 5)); }
timeout "$(left)" $PY benchmarks/gpu/emp_backward.py --out "$OUT/gpu_emp_backward.md" > "$LOGS/bench.log" 2>&1
note "emp_backward: exit $?"
timeout "$(left)" $PY benchmarks/gpu/profile_step.py --out "$OUT/gpu_profile.md" >> "$LOGS/bench.log" 2>&1
note "profile_step: exit $?"
timeout "$(left)" $PY benchmarks/gpu/trainer_runs.py --trainer "$SKIPTRAIN_TRAINER" --data-dir .gpu/data/cifar10 \
  --out "$OUT/gpu_trainer.md" >> "$LOGS/bench.log" 2>&1
note "trainer_runs: exit $?"
timeout "$(left)" $PY benchmarks/gpu/train_throughput.py --out "$OUT/gpu_training.md" >> "$LOGS/bench.log" 2>&1
note "train_throughput: exit $?"
cat "$OUT"/gpu_{emp_backward,trainer,training}.md >> "$OUT/summary.md" 2>/dev/null
note "done"
