"""Running the skiptrain trainer from benchmark drivers: one run -> its JSON summary,
its metrics records, and the machine it ran on. Shared by compare_methods.py and
reproduce.py so that both read the trainer's output the same way."""
import json
import platform
import shlex
import socket
import subprocess
import sys
from pathlib import Path


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def run_trainer(trainer, args, log_path=None):
    """Runs `trainer train ARGS --progress none`; returns the parsed JSON summary (last stdout line).

    Args:
        trainer: path of the skiptrain binary.
        args: list of flags (strings).
        log_path: where the trainer's stderr is written; None keeps it in memory.
    Exits the driver with the trainer's stderr when the run fails.
    """
    cmd = [str(trainer), "train", *map(str, args), "--progress", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if log_path is not None:
        Path(log_path).write_text(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"trainer failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_markdown(path, lines):
    """Writes a driver's table (a list of lines) to `path`, creating its folder, and prints it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def free_port():
    """A TCP port on loopback that was free a moment ago (the kernel's pick for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ranks(trainer, args, world, rank_args=lambda rank: []):
    """Starts the `world` processes of one data-parallel trainer run on loopback: each `trainer ARGS
    RANK_ARGS(rank) --world-size W --rank r --master-port P`. Returns the Popen objects (stdout and
    stderr piped, text)."""
    port = free_port()
    return [subprocess.Popen([str(trainer), *map(str, args), *map(str, rank_args(rank)), "--world-size", str(world),
                              "--rank", str(rank), "--master-port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for rank in range(world)]


def read_metrics(path):
    """The records of a --metrics JSON-lines file, in order."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def trainer_has_flag(trainer, flag):
    """Whether `trainer train --help` lists `flag` (for flags other branches add)."""
    proc = subprocess.run([str(trainer), "train", "--help"], capture_output=True, text=True)
    return flag in proc.stdout
