#!/usr/bin/env bash
# On a GPU machine, without compiling: the after build's C++ GPU tests, then two builds of the
# trainer side by side, `skiptrain train --device cuda` dense (sgd) and eif+emp (accumulate
# batching, R_set 0.25, keep 0.5, as in trainer_runs.py), the builds' runs interleaved by
# benchmarks/compare_methods.py (before, after, before, after, ...) on the CIFAR-10 subset of
# prepare.sh, and the after build's EMP backward against cuDNN (emp_backward.py). The builds come
# from the development machine (benchmarks/gpu/carry_build.sh before / after) in .gpu/bin/.
# Tables to $OUT (default runs/gpu), most important first, each cut so that all end by DEADLINE s.
set -uo pipefail
OUT=${OUT:-runs/gpu}
PY=${PYTHON:-python3}
BEFORE=${BEFORE:-.gpu/bin/before} AFTER=${AFTER:-.gpu/bin/after}
DEADLINE=${DEADLINE:-200}
start=$(date +%s)
mkdir -p "$OUT"
note() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$OUT/compare_builds.md"; }
left() { local l=$((DEADLINE - ($(date +%s) - start))); echo $((l > 5 ? l : 5)); }

# The machine's torch and CUDA runtime, for builds linked elsewhere against the same torch version.
torch_lib=$($PY -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
cudart=$(ls /usr/local/cuda/lib64/libcudart.so.13 "$torch_lib/../../nvidia/cu13/lib/libcudart.so.13" 2>/dev/null |
  head -1)
cudart=$(dirname "$cudart")
export LD_LIBRARY_PATH=$torch_lib:$cudart${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
note "$card; before: $(cat "$BEFORE/BUILD"); after: $(cat "$AFTER/BUILD")"
for build in "$BEFORE" "$AFTER"; do
  if ! "$build/skiptrain" --help > /dev/null 2>/tmp/loader.log; then
    note "$build/skiptrain does not start: $(tail -3 /tmp/loader.log)"
    exit 1
  fi
done

timeout "$(left)" "$AFTER/skiptrain_tests" --gtest_filter='CudaOps.*:*Cuda*:LaggedLoss.*:Sgd.*' \
  > "$OUT/gpu_tests.log" 2>&1
note "C++ GPU tests (after): exit $?, $(grep -E '^\[  (PASSED|FAILED) ' "$OUT/gpu_tests.log" | tr '\n' ' ')"

COMMON="--dataset cifar10 --data-dir .gpu/data/cifar10 --device cuda --iterations 150 --eval-every 0 --lr 0.1"
COMMON+=" --momentum 0.9 --weight-decay 1e-4"
EIF="--method eif+emp --eif-ratio 0.25 --emp-keep 0.5 --emp-layer-keep none --eif-batching accumulate"
compare() {  # model batch repeats
  timeout "$(left)" $PY benchmarks/compare_methods.py --trainer "$AFTER/skiptrain" --repeats "$3" \
    --trainer-of "dense before=$BEFORE/skiptrain" --trainer-of "eif+emp before=$BEFORE/skiptrain" \
    --common "--model $1 --batch-size $2 $COMMON" \
    --run "dense before=--method sgd" --run "dense after=--method sgd" \
    --run "eif+emp before=$EIF" --run "eif+emp after=$EIF" \
    --title "Trainer builds side by side on a GPU ($card): $1, batch $2" --out "$OUT/gpu_builds_$1_b$2.md" \
    >> "$OUT/compare_builds.log" 2>&1
  note "$1 batch $2: exit $?"
}
compare resnet20 128 3
SKIPTRAIN_LIBRARY=$AFTER/libskiptrain.so.0 PYTHONPATH=$PWD/python timeout "$(left)" $PY benchmarks/gpu/emp_backward.py \
  --out "$OUT/gpu_emp_backward.md" > /tmp/emp_backward.log 2>&1
note "emp_backward (after): exit $? $(grep -E '^- batch' "$OUT/gpu_emp_backward.md" 2>/dev/null | tr '\n' ' ')"
compare resnet20 512 2
compare resnet110 128 2
note done
