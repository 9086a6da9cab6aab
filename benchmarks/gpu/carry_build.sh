#!/usr/bin/env bash
# Run here: copies this checkout's build of the trainer and the C++ tests (build/trainer/skiptrain,
# build/tests/cpp/skiptrain_tests, build/libskiptrain.so.0, CUDA kernels included) into
# .gpu/bin/NAME/, which travels with a GPU call, so that benchmarks/gpu/compare_builds.sh can time
# two builds side by side there without compiling either (a build there takes about 95 s of the
# call). .gpu/bin/NAME/skiptrain (and skiptrain_tests) is a wrapper that puts its own libskiptrain
# first on the library path; the GPU machine's torch must be the version built against here
# (2.11.0+cu130 on both).
# Example: build at the commit before a change, `carry_build.sh before`; rebuild, `carry_build.sh after`.
set -euo pipefail
cd "$(dirname "$0")/../.."
NAME=${1:?usage: benchmarks/gpu/carry_build.sh NAME (a folder name under .gpu/bin, such as before or after)}
[ -x build/trainer/skiptrain ] || { echo "build/trainer/skiptrain: not built; run make build first" >&2; exit 1; }
DIR=.gpu/bin/$NAME
rm -rf "$DIR" && mkdir -p "$DIR"
cp -L build/libskiptrain.so.0 "$DIR/libskiptrain.so.0"
# Each program as NAME-bin, behind a wrapper NAME that puts this folder first on the library path.
for program in build/trainer/skiptrain build/tests/cpp/skiptrain_tests; do
  [ -x "$program" ] || continue
  name=$(basename "$program")
  cp "$program" "$DIR/$name-bin"
  printf '%s\n' '#!/usr/bin/env bash' 'here=$(cd "$(dirname "$0")" && pwd)' \
    "LD_LIBRARY_PATH=\$here\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} exec \"\$here/$name-bin\" \"\$@\"" > "$DIR/$name"
  chmod +x "$DIR/$name"
done
changed=$(git diff --quiet HEAD -- csrc cuda trainer || echo ' (with uncommitted changes)')
echo "$DIR: $(git log -1 --format='%h %s' | cut -c1-80)$changed" | tee "$DIR/BUILD"
