#!/usr/bin/env python3
"""Why an op's error path crashes in Python on the GPU machine while the C++ suite passes: the facts
in one report. There (session 11) every exception an op raised into Python segfaulted (pytest's
bad-argument tests) while ctest's error paths passed, and the global symbol scope held no libtorch
copy of a libstdc++ function. The suspect: libskiptrain.so carrying a static copy of libstdc++ of
its own (a g++ with no shared libstdc++), beside the shared one torch uses.

The report, written as it goes: the toolchain (where g++ finds libstdc++.so, and what a one-line
shared library it links needs and defines), libskiptrain's needed libraries and which C++-runtime
entry points it defines itself, the global scope's std::ostringstream constructor, an op's argument
error raised in child processes (loaded by torch.ops.load_library, and by `import skiptrain`), a
native backtrace (gdb or cuda-gdb) of the first child that crashes, and LD_DEBUG's count of the
libraries that satisfy libskiptrain's std:: references. Writes markdown (--out).

Example:
    SKIPTRAIN_LIBRARY=build-gpu/libskiptrain.so PYTHONPATH=python python3 benchmarks/gpu/link_check.py --out runs/link.md
"""
import argparse
import collections
import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile

TRIGGER = """
import torch
try:
    torch.ops.skiptrain.emp_conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3), None, [1, 1], [0, 0], [1, 1],
                                   1, 2.0, 1.0, 1.0, False)
except ValueError as e:
    print("raised ValueError:", str(e).splitlines()[0])
"""
LOADERS = {"torch.ops.load_library": "import os, torch; torch.ops.load_library(os.environ['SKIPTRAIN_LIBRARY'])",
           "import skiptrain": "import skiptrain"}
OSTRINGSTREAM_CONSTRUCTOR = "_ZNSt7__cxx1119basic_ostringstreamIcSt11char_traitsIcESaIcEEC1Ev"
# Defined by libstdc++ / libgcc alone: a library that defines one of them carries a copy of that runtime.
RUNTIME_ENTRY_POINTS = ["__cxa_throw", "__cxa_begin_catch", "__gxx_personality_v0", "_ZSt9terminatev",
                        "_ZTVN10__cxxabiv117__class_type_infoE", OSTRINGSTREAM_CONSTRUCTOR, "_Unwind_RaiseException"]
STD_BINDING = re.compile(r"binding file \S*libskiptrain\S* \[0\] to (\S+) \[0\]: normal symbol `_ZN?K?S")


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def global_definer(symbol):
    """The library whose definition of `symbol` the process's global scope holds, or None."""
    scope = ctypes.CDLL(None)
    try:
        address = ctypes.cast(getattr(scope, symbol), ctypes.c_void_p).value
    except AttributeError:
        return None
    info = _DlInfo()
    if not scope.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


def run(cmd, env=None, timeout=60):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout} s"
    return proc.returncode, proc.stdout.strip(), proc.stderr


def shell(command):
    return subprocess.run(command, shell=True, capture_output=True, text=True).stdout.strip()


def needed(path):
    return " ".join(re.findall(r"\[(.*?)\]", shell(f"readelf -d {path} | grep NEEDED")))


def defined_entry_points(path):
    defined = set(shell(f"nm -D --defined-only {path} | awk '{{print $NF}}'").split())
    return [s for s in RUNTIME_ENTRY_POINTS if s in defined] or ["none"]


def toolchain_lines():
    """What this g++ links into a one-line C++ shared library: its needs and runtime entry points."""
    with tempfile.TemporaryDirectory() as tmp:
        source, library = os.path.join(tmp, "probe.cpp"), os.path.join(tmp, "libprobe.so")
        with open(source, "w") as f:
            f.write("#include <stdexcept>\nvoid probe(int x) { if (x) throw std::runtime_error(\"x\"); }\n")
        rc, _, err = run(["g++", "-shared", "-fPIC", "-O1", source, "-o", library])
        probe = (f"needs {needed(library)}; defines {', '.join(defined_entry_points(library))}" if rc == 0
                 else f"did not link: {err.strip()[-200:]}")
    return [f"- g++: {shutil.which('g++')} ({shell('g++ -dumpfullversion')}); -print-file-name=libstdc++.so: "
            f"{shell('g++ -print-file-name=libstdc++.so')}",
            f"- a one-line C++ shared library from this g++: {probe}"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    a = p.parse_args()
    import torch

    library = os.environ["SKIPTRAIN_LIBRARY"]
    out = open(a.out, "w", buffering=1)

    def report(*lines):
        for line in lines:
            out.write(line + "\n")
            print(line, flush=True)

    report("# libskiptrain's C++ runtime in Python", "",
           f"- python {sys.executable} ({sys.version.split()[0]}), torch {torch.__version__}; "
           f"TORCH_USE_RTLD_GLOBAL={os.environ.get('TORCH_USE_RTLD_GLOBAL', '')!r}, "
           f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')!r}",
           *toolchain_lines(),
           f"- {library}: needs {needed(library)}; defines {', '.join(defined_entry_points(library))}",
           f"- global scope's std::ostringstream constructor after `import torch`: "
           f"{global_definer(OSTRINGSTREAM_CONSTRUCTOR)}")
    debugger = shutil.which("gdb") or shutil.which("cuda-gdb")
    for name, load in LOADERS.items():
        rc, stdout, err = run([sys.executable, "-c", load + TRIGGER])
        report(f"- {name}: exit {rc}; {stdout or (err.strip().splitlines() or [''])[-1]}")
        if rc is not None and rc < 0 and debugger:
            _, trace, trace_err = run([debugger, "-batch", "-ex", "run", "-ex", "bt 30", "--args", sys.executable,
                                       "-c", load + TRIGGER], timeout=90)
            frames = [f for f in trace.splitlines() if f.startswith("#")] or trace_err.splitlines()[-10:]
            report("", f"  native backtrace ({os.path.basename(debugger)}):", "", "```", *frames[:30], "```", "")
            debugger = None  # one backtrace is enough
    _, _, err = run([sys.executable, "-c", LOADERS["torch.ops.load_library"] + TRIGGER], {"LD_DEBUG": "bindings"})
    by_library = collections.Counter(os.path.basename(m.group(1)) for m in STD_BINDING.finditer(err))
    report("", "libskiptrain's std:: references (template instantiations included) by the library that "
           "satisfied them, LD_DEBUG=bindings:", "",
           *[f"- {target}: {count}" for target, count in by_library.most_common()])
    out.close()


if __name__ == "__main__":
    main()
