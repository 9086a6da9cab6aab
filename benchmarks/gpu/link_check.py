#!/usr/bin/env python3
"""Why an op's error path crashes in Python on the GPU machine while the C++ suite passes: the facts
in one report. On the GPU machine (session 11), every exception an op raised into Python segfaulted
(pytest's bad-argument tests) while ctest's error paths passed; the global symbol scope held no
libstdc++ copy of libtorch's, so the crash is elsewhere. This prints the toolchain (g++ and whether
its specs link the C++ runtime statically), libskiptrain's needed libraries and how many C++-runtime
symbols it exports (a static libstdc++ inside it shows as thousands), which library the global scope
takes std::ostringstream's constructor from, then raises an op's argument error in child processes
(loaded by torch.ops.load_library, and by `import skiptrain`); a child that crashes is rerun under
gdb or cuda-gdb for its native backtrace. Under LD_DEBUG=bindings, the libraries that satisfy
libskiptrain's std:: and C++-runtime references. Writes a markdown report (--out).

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
RUNTIME = re.compile(r"^(_ZN?K?St|_ZSt|_ZTV?I?S?N?St|__cxa|__gxx|_Unwind)")
BINDING = re.compile(r"binding file (\S*libskiptrain\S*) \[0\] to (\S+) \[0\]: normal symbol `(\S*?)'")


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


def run(cmd, env=None, timeout=120):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout.strip(), proc.stderr


def shell(command):
    return subprocess.run(command, shell=True, capture_output=True, text=True).stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    a = p.parse_args()
    import torch

    library = os.environ["SKIPTRAIN_LIBRARY"]
    exported = shell(f"nm -D --defined-only {library}").split("\n")
    runtime_exports = sum(1 for line in exported if RUNTIME.match(line.split()[-1] if line.split() else ""))
    specs = shell("g++ -dumpspecs | grep -o -E -- '-?static-lib[a-z+]*|shared-libgcc' | sort -u | tr '\\n' ' '")
    needed = shell(f"readelf -d {library} | grep NEEDED | head -4 | grep -o '\\[.*\\]' | tr '\\n' ' '")
    lines = ["# libskiptrain's C++ runtime in Python", "",
             f"- python {sys.executable} ({sys.version.split()[0]}), torch {torch.__version__}; "
             f"TORCH_USE_RTLD_GLOBAL={os.environ.get('TORCH_USE_RTLD_GLOBAL', '')!r}, "
             f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')!r}, LD_BIND_NOW={os.environ.get('LD_BIND_NOW', '')!r}",
             f"- g++: {shell('command -v g++')} ({shell('g++ -dumpfullversion')}); runtime flags in its specs: "
             f"{specs or 'none'}; -print-file-name=libstdc++.so: {shell('g++ -print-file-name=libstdc++.so')}",
             f"- {library}: needs {needed}; exports {len(exported)} symbols, {runtime_exports} of them C++-runtime "
             "(std::, __cxa, _Unwind)",
             f"- global scope's std::ostringstream constructor after `import torch`: "
             f"{global_definer(OSTRINGSTREAM_CONSTRUCTOR)}"]
    debugger = shutil.which("gdb") or shutil.which("cuda-gdb")
    for name, load in LOADERS.items():
        rc, out, err = run([sys.executable, "-c", load + TRIGGER])
        lines.append(f"- {name}: exit {rc}; {out or (err.strip().splitlines() or [''])[-1]}")
        if rc < 0 and debugger:
            _, trace, trace_err = run([debugger, "-batch", "-ex", "run", "-ex", "bt 30", "--args", sys.executable, "-c",
                                       load + TRIGGER], timeout=240)
            frames = [f for f in trace.splitlines() if f.startswith("#")] or trace_err.splitlines()[-10:]
            lines += ["", f"  native backtrace ({os.path.basename(debugger)}):", "", "```", *frames[:30], "```", ""]
    _, _, err = run([sys.executable, "-c", LOADERS["torch.ops.load_library"] + TRIGGER], {"LD_DEBUG": "bindings"})
    by_library = collections.Counter()
    foreign = set()
    for m in BINDING.finditer(err):
        if not RUNTIME.match(m.group(3)):
            continue
        target = os.path.basename(m.group(2))
        by_library[target] += 1
        if not target.startswith(("libstdc++", "libskiptrain", "libc.so", "libgcc_s")):
            foreign.add(f"{target} {m.group(3)}")
    lines += ["", "libskiptrain's C++-runtime references by the library that satisfied them (LD_DEBUG=bindings):", ""]
    lines += [f"- {target}: {count}" for target, count in by_library.most_common()]
    lines += ["", "Bound outside libstdc++, libgcc_s, libc and libskiptrain:", ""]
    lines += [f"- `{f}`" for f in sorted(foreign)[:40]] or ["- none"]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:9]))


if __name__ == "__main__":
    main()
