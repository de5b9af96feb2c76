"""A forced GPU allocation failure under `rocm-patch run` (scripts/gpu-check.sh).

Run with a small --memory-fraction: the shim caps this process at that share
of the GPU's memory, so a tensor of twice the cap cannot be made on the GPU.
Under --shim-policy fallback the shim makes it on the CPU and the script goes
on; the history records the fallback. Prints one JSON line with what
happened, then a throughput line for `rocm-patch report`.
"""

import json
import os
import time

import torch

import rocm_patch

assert torch.cuda.is_available(), "this check needs a GPU"
props = torch.cuda.get_device_properties(0)
fraction = float(os.environ.get("ROCM_PATCH_MEMORY_FRACTION", "0"))
cap = int(props.total_memory * fraction) if fraction else props.total_memory
want = 2 * cap  # bytes: twice what this process may take

# A few real GPU steps first, so the run is a training-like job.
x = torch.randn(2048, 2048, device="cuda")
t0 = time.perf_counter()
for _ in range(50):
    x = torch.tanh(x @ x.T / 2048)
torch.cuda.synchronize()
steps_per_s = 50 / (time.perf_counter() - t0)

big = torch.empty(want // 4, dtype=torch.float32, device="cuda")
print(json.dumps({
    "gpu": props.name,
    "total_gib": round(props.total_memory / 2**30, 1),
    "memory_fraction": fraction,
    "asked_gib": round(want / 2**30, 1),
    "big_tensor_device": str(big.device),
    "select_device": rocm_patch.select_device(),
}), flush=True)
rocm_patch.report_throughput(round(steps_per_s, 1), "steps/s")
