"""The virtual environment the ONNX tools run in: build/onnx-venv, with the
pinned packages from PyPI. A script calls `run_in_venv(__file__, [...])` first:
outside the environment it creates it if needed, installs the packages and
re-runs itself there; inside, it returns."""
import os
import subprocess
import sys

ONNX_VERSION = "1.22.0"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, "build", "onnx-venv")


def run_in_venv(script, packages):
    python = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(VENV):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    subprocess.check_call([python, "-m", "pip", "install", "-q"] + packages)
    os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])
