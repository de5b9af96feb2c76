"""rocm-patch probe workload: a small EEG training loop that exercises what
the documented ROCm memory access faults on consumer RDNA GPUs have in
common (view/reshape/permute chains, EEGNeX-like spatial and
depthwise-separable convolutions, batches above 16, mixed precision,
frequent allocation and release).

rocm-patch probe runs it in a child process under each mitigation
configuration; nothing here knows which. The device is chosen by
ROCM_PATCH_DEVICE ("cpu", else the GPU). Lines for the supervisor start
with "rocm-patch: "; the last, "rocm-patch: probe-result=<JSON>", is what
the probe reads.

Exit status: 0 done; 3 torch cannot be imported; 77 skipped (a GPU
configuration where torch sees no GPU); anything else is a failure.

Usage: python workload.py [--check] [--steps N] [--warmup N] [--batch B]
                          [--channels C] [--samples T] [--seed S]
  --check prints "rocm-patch: probe-check=<JSON>" (torch present, and with
  ROCM_PATCH_DEVICE=gpu whether it sees a GPU) and exits 0.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

EXIT_NO_TORCH = 3
EXIT_SKIPPED = 77
PREFIX = "rocm-patch: "


def say(msg):
    sys.stdout.write(PREFIX + msg + "\n")
    sys.stdout.flush()


def emit(key, obj):
    say(key + "=" + json.dumps(obj, separators=(",", ":"), sort_keys=True))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="workload.py")
    p.add_argument("--check", action="store_true")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=22)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for name in ("steps", "batch", "channels", "samples"):
        if getattr(a, name) < 1:
            p.error("--%s must be at least 1" % name)
    if a.warmup < 0:
        p.error("--warmup must not be negative")
    return a


def check(want_gpu):
    info = {"python": sys.executable, "torch": None}
    if importlib.util.find_spec("torch") is None:
        emit("probe-check", info)
        return 0
    if not want_gpu:
        # Where torch is, without importing it (a second or more).
        info["torch"] = "present"
        emit("probe-check", info)
        return 0
    import torch

    info["torch"] = torch.__version__
    info["hip"] = getattr(torch.version, "hip", None)
    info["gpu"] = bool(torch.cuda.is_available())
    info["gpus"] = torch.cuda.device_count() if info["gpu"] else 0
    emit("probe-check", info)
    return 0


def cpu_bf16_native():
    """Whether this CPU computes bfloat16 natively. Elsewhere bfloat16 is
    emulated and slower than float32, which would make the CPU look slower
    than it is and the GPU's speedup larger."""
    try:
        import torch

        fn = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if fn is not None:
            return bool(fn())
    except Exception:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    return False


def build_model(torch, channels, samples, classes=4, f1=8, depth=2):
    nn = torch.nn
    f2 = f1 * depth

    class EEGNeXLike(nn.Module):
        """EEGNeX's shape in small: a temporal convolution, a depthwise
        spatial convolution whose kernel spans every electrode (C, 1), then
        a depthwise-separable temporal block (depthwise, then pointwise)."""

        def __init__(self):
            super().__init__()
            self.temporal = nn.Conv2d(1, f1, (1, 15), padding=(0, 7), bias=False)
            self.bn1 = nn.BatchNorm2d(f1)
            self.spatial = nn.Conv2d(f1, f2, (channels, 1), groups=f1, bias=False)
            self.bn2 = nn.BatchNorm2d(f2)
            self.pool1 = nn.AvgPool2d((1, 4))
            self.depthwise = nn.Conv2d(f2, f2, (1, 7), padding=(0, 3), groups=f2, bias=False)
            self.pointwise = nn.Conv2d(f2, f2, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(f2)
            self.pool2 = nn.AvgPool2d((1, 4))
            self.act = nn.ELU()
            self.drop = nn.Dropout(0.25)
            with torch.no_grad():
                n = self.features(torch.zeros(2, channels, samples)).shape[1]
            self.head = nn.Linear(n, classes)

        def features(self, x):
            b, c, t = x.shape
            x = x.view(b, 1, c, t)  # (B, 1, C, T)
            x = self.bn1(self.temporal(x))
            x = self.act(self.bn2(self.spatial(x)))  # (B, F2, 1, T)
            x = self.drop(self.pool1(x))
            x = self.pointwise(self.depthwise(x))
            x = self.drop(self.pool2(self.act(self.bn3(x))))
            # A permute/reshape chain as models that regroup time windows
            # write it: (B, F2, 1, T') -> (B, T', F2) -> (B, T'*F2).
            x = x.squeeze(2).permute(0, 2, 1).contiguous()
            return x.reshape(b, -1)

        def forward(self, x):
            return self.head(self.features(x))

    return EEGNeXLike()


def churn(torch, dev, step):
    """Allocate and release tensors of changing sizes, as data loading and
    augmentation do, so the caching allocator splits and reuses blocks."""
    held = []
    for i in range(6):
        n = 1 << (10 + (step + i) % 8)
        held.append(torch.empty(n, device=dev).uniform_())
    total = sum(float(t[:1].sum()) for t in held)
    del held
    return total


def run(a):
    try:
        import torch
    except Exception as exc:
        say("probe: %s cannot import torch: %s" % (sys.executable, exc))
        return EXIT_NO_TORCH

    want_cpu = os.environ.get("ROCM_PATCH_DEVICE", "gpu") == "cpu"
    if want_cpu:
        dev = torch.device("cpu")
    elif torch.cuda.is_available():
        dev = torch.device("cuda")
    else:
        say("probe: skipped: torch sees no GPU")
        emit("probe-result", {"skipped": "torch sees no GPU", "torch": torch.__version__})
        return EXIT_SKIPPED

    torch.manual_seed(a.seed)
    amp_dtype, amp_note = None, ""
    if dev.type == "cuda":
        amp_dtype = torch.float16
    elif not hasattr(torch, "autocast"):
        amp_note = "this torch has no CPU autocast"
    elif not cpu_bf16_native():
        amp_note = "this CPU has no native bfloat16"
    else:
        amp_dtype = torch.bfloat16
    amp = str(amp_dtype).replace("torch.", "") if amp_dtype else "off"
    gpu_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else ""
    say(
        "probe: torch %s on %s%s, AMP %s%s, batch %d, %d channels x %d samples, %d steps after %d warm-up"
        % (torch.__version__, dev.type, " (" + gpu_name + ")" if gpu_name else "", amp,
           " (" + amp_note + ")" if amp_note else "", a.batch, a.channels, a.samples, a.steps, a.warmup)
    )

    model = build_model(torch, a.channels, a.samples).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    scaler = None
    if amp_dtype == torch.float16:
        # torch.amp.GradScaler("cuda") from 2.3; the older spelling warns
        # there.
        amp_mod = getattr(torch, "amp", None)
        if amp_mod is not None and hasattr(amp_mod, "GradScaler"):
            scaler = amp_mod.GradScaler("cuda")
        else:
            scaler = torch.cuda.amp.GradScaler()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    times = []
    loss_v = float("nan")
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        # The batch arrives time-major, (B, T, C), as a recording is
        # stored, and is turned into (B, C, T) with a transpose: the model
        # then sees a non-contiguous tensor and views it.
        raw = torch.randn(a.batch, a.samples, a.channels, device=dev)
        x = raw.transpose(1, 2).contiguous().view(a.batch, a.channels, a.samples)
        y = torch.randint(0, 4, (a.batch,), device=dev)
        opt.zero_grad(set_to_none=True)
        if amp_dtype is not None:
            with torch.autocast(dev.type, dtype=amp_dtype):
                loss = loss_fn(model(x), y)
        else:
            loss = loss_fn(model(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        churn(torch, dev, step)
        del raw, x, y
        if dev.type == "cuda" and step % 10 == 9:
            torch.cuda.empty_cache()
        loss_v = float(loss.detach().float())
        sync()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)

    median = statistics.median(times)
    tput = len(times) / sum(times) if sum(times) > 0 else 0.0
    say("probe: step time median %.3f ms, mean %.3f ms over %d steps; loss %.4f"
        % (median * 1e3, statistics.mean(times) * 1e3, len(times), loss_v))
    say("throughput=%.4g steps/s" % tput)
    emit("probe-result", {
        "device": dev.type, "gpu_name": gpu_name, "torch": torch.__version__,
        "hip": getattr(torch.version, "hip", None) or "", "amp": amp, "amp_note": amp_note,
        "steps": len(times), "median_step_ms": median * 1e3, "mean_step_ms": statistics.mean(times) * 1e3,
        "throughput": tput,
    })
    return 0


def main(argv):
    a = parse_args(argv)
    if a.check:
        return check(os.environ.get("ROCM_PATCH_DEVICE", "gpu") != "cpu")
    return run(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
