"""Thin driver over CMake: builds libskiptrain and ships it inside the Python package.

Use: pip install --no-build-isolation .   (in a venv made with --system-site-packages,
so that it sees the installed torch). SKIPTRAIN_BUILD_DIR picks the CMake build
directory (default: build), so `make build` and pip share one build.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCMake(build_py):
    """Configures and builds the `skiptrain` library target, then copies it into the package."""

    def run(self):
        build_dir = Path(os.environ.get("SKIPTRAIN_BUILD_DIR", ROOT / "build"))
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "skiptrain", "-j", str(os.cpu_count() or 2)])
        super().run()
        target = Path(self.build_lib) / "skiptrain" / "lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(build_dir / "libskiptrain.so", target / "libskiptrain.so")


setup(
    name="skiptrain",
    version="0.1.0",
    description="On-device CNN training with an Early Instance Filter and Error Map Pruning",
    package_dir={"": "python"},
    packages=["skiptrain"],
    python_requires=">=3.8",
    cmdclass={"build_py": BuildWithCMake},
)
