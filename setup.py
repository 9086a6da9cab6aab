"""Thin driver over CMake: builds libskiptrain against the torch of the interpreter running pip
and ships it inside the Python package (metadata: pyproject.toml).

Use: pip install --no-build-isolation .   (in the environment whose torch you use).
SKIPTRAIN_BUILD_DIR picks the CMake build directory (default: build), so `make build` and pip
share one build.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCMake(build_py):
    """Configures and builds the `skiptrain` library target, then copies it into the package."""

    def run(self):
        build_dir = Path(os.environ.get("SKIPTRAIN_BUILD_DIR", ROOT / "build"))
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                                   f"-DSKIPTRAIN_PYTHON={sys.executable}"])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "skiptrain", "-j", str(os.cpu_count() or 2)])
        super().run()
        target = Path(self.build_lib) / "skiptrain" / "lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / "libskiptrain.so", target / "libskiptrain.so")


setup(cmdclass={"build_py": BuildWithCMake})
