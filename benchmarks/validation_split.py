#!/usr/bin/env python3
"""Writes a tuning split of an MNIST-format dataset: the last --holdout training
instances become the "t10k" test files, the rest the training files, so that a
method's open choices can be tuned without ever looking at the test set that is
reported (method.md 3: never tune on a test set you report).

The trainer reads the result like any dataset directory:
    benchmarks/validation_split.py --data-dir ../shared/data/mnist --out /tmp/mnist-val
    build/trainer/skiptrain train --dataset mnist --data-dir /tmp/mnist-val ...
"""
import argparse
import gzip
import struct
import sys
from pathlib import Path

IMAGES, LABELS = 2051, 2049  # IDX magic numbers of the image and label files


def read_idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    header = 16 if magic == IMAGES else 8
    if magic not in (IMAGES, LABELS) or len(data) < header:
        sys.exit(f"{path}: not an IDX image or label file (magic {magic}); pass an MNIST-format --data-dir")
    record = (len(data) - header) // count if count else 0
    if count == 0 or header + record * count != len(data):
        sys.exit(f"{path}: truncated or corrupt ({len(data)} bytes for {count} records); re-fetch the dataset")
    return data[:header], record, data[header:]


def write_idx(path, header, count, body):
    header = header[:4] + struct.pack(">I", count) + header[8:]
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + body)


def find(data_dir, stem):
    for name in (f"{stem}.gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    sys.exit(f"{data_dir}: no {stem}[.gz]; pass the directory of an MNIST or Fashion-MNIST download as --data-dir")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="directory with train-*-idx*-ubyte[.gz]")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the split to")
    parser.add_argument("--holdout", type=int, default=10000, help="training instances held out as the test split")
    args = parser.parse_args()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        sys.exit(f"--out {args.out}: cannot create the directory ({e.strerror}); pass a new or existing directory")
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        header, record, body = read_idx(find(args.data_dir, f"train-{kind}"))
        count = len(body) // record
        if not 0 < args.holdout < count:
            sys.exit(f"--holdout {args.holdout}: must be between 1 and {count - 1}, the training set's size - 1")
        keep = count - args.holdout
        write_idx(args.out / f"train-{kind}.gz", header, keep, body[:keep * record])
        write_idx(args.out / f"t10k-{kind}.gz", header, args.holdout, body[keep * record:])
    print(f"{args.out}: {count - args.holdout} training and {args.holdout} held-out instances")


if __name__ == "__main__":
    main()
