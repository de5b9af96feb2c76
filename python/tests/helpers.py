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
    # A GPU build (CUDA or ROCm) leaves the shim "pending" until the GPU
    # initialises; a CPU-only build makes it "cpu" at once. CI has Debian's
    # CPU build; scripts/gpu-check.sh runs these tests on a GPU build.
    GPU_BUILD_TORCH = bool(getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", None))
except ImportError:
    HAVE_TORCH = False
    GPU_BUILD_TORCH = False

# The shim's device state right after `import torch`, before any GPU use.
DEVICE_AFTER_IMPORT = "pending" if GPU_BUILD_TORCH else "cpu"


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
