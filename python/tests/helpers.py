"""Shared set-up for the shim's tests: paths, and a child Python under the shim."""

import json
import os
import subprocess
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
# python/ holds sitecustomize.py and rocm_patch/ side by side, as the folder
# that `rocm-patch run` installs does, so it serves as the shim folder.
SHIM_DIR = os.path.dirname(TESTS)
if SHIM_DIR not in sys.path:
    sys.path.insert(0, SHIM_DIR)

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def clean_env(**extra):
    """This environment without any rocm-patch or allocator settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ROCM_PATCH_") and k not in ("PYTHONPATH", "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_HIP_ALLOC_CONF")
    }
    env.update(extra)
    return env


def run_python(code, pythonpath=None, **env):
    """Runs code in a fresh interpreter (this one's executable) with the shim
    folder first on PYTHONPATH, or with pythonpath when given."""
    path = SHIM_DIR if pythonpath is None else pythonpath
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(PYTHONPATH=path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_events(run_dir):
    with open(os.path.join(run_dir, "shim.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
