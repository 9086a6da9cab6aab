#!/usr/bin/env bash
# Run here, before benchmarks/gpu/run.sh travels to a bare GPU machine: puts what that machine
# lacks into .gpu/ (ignored by git, carried with the call): the Debian packages of CLI11,
# nlohmann-json, GoogleTest, zlib's, OpenSSL's and Gloo's headers, and a stated CIFAR-10 subset (the
# whole set is 163 MiB; a call carries at most 64 MiB): the first 1,000 images of each training
# batch file (5,000 images) and the first 2,000 test images.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/data/cifar10}
mkdir -p .gpu/debs .gpu/data/cifar10
(cd .gpu/debs && rm -f ./*.deb && apt-get download libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev zlib1g-dev libssl-dev libgloo-dev)
# The first `count` CIFAR-10 records (1 label byte + 3x32x32 pixels each) of a .bin.gz file.
head_records() { python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.compress(gzip.open(sys.argv[1]).read(3073 * int(sys.argv[2])), 1))' "$1" "$2"; }
for i in 1 2 3 4 5; do
  head_records "$DATA/data_batch_$i.bin.gz" 1000 > .gpu/data/cifar10/data_batch_$i.bin.gz
done
head_records "$DATA/test_batch.bin.gz" 2000 > .gpu/data/cifar10/test_batch.bin.gz
du -sh .gpu
