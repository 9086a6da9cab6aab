"""benchmarks/validation_split.py: the held-out tail of the training files becomes the
test split, byte for byte, the trainer reads it, and a truncated file is refused by name."""
import gzip
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "validation_split.py"


def split(data_dir, out, holdout):
    return subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(data_dir), "--out", str(out),
                           "--holdout", str(holdout)], capture_output=True, text=True, timeout=60)


def records(path, header):
    return gzip.open(path).read()[header:]


def test_holdout_is_the_training_tail_and_trains(trainer, tiny_mnist, tmp_path):
    proc = split(tiny_mnist, tmp_path / "val", 100)
    assert proc.returncode == 0, proc.stderr
    train_images = records(tiny_mnist / "train-images-idx3-ubyte.gz", 16)
    train_labels = records(tiny_mnist / "train-labels-idx1-ubyte.gz", 8)
    assert records(tmp_path / "val/train-images-idx3-ubyte.gz", 16) == train_images[:412 * 784]
    assert records(tmp_path / "val/t10k-images-idx3-ubyte.gz", 16) == train_images[412 * 784:]
    assert records(tmp_path / "val/train-labels-idx1-ubyte.gz", 8) == train_labels[:412]
    assert records(tmp_path / "val/t10k-labels-idx1-ubyte.gz", 8) == train_labels[412:]
    run = subprocess.run([trainer, "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "val"),
                          "--iterations", "3", "--threads", "1", "--progress", "none"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_truncated_file_and_bad_holdout_are_refused(tiny_mnist, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    data = gzip.open(tiny_mnist / "train-images-idx3-ubyte.gz").read()
    with gzip.open(broken / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(data[:-100])
    proc = split(broken, tmp_path / "out", 10)
    assert proc.returncode != 0 and "train-images-idx3-ubyte.gz: truncated" in proc.stderr
    proc = split(tiny_mnist, tmp_path / "out", 512)
    assert proc.returncode != 0 and "--holdout 512" in proc.stderr
