#!/usr/bin/env bash
# The checks that need a real GPU and a GPU build of PyTorch (issue 5's GPU
# check, issue 8's API on a GPU machine). Run from the repository root on a
# machine with a GPU, with a built binary:
#   CGO_ENABLED=0 go build -o bin/rocm-patch ./cmd/rocm-patch
#   scripts/gpu-check.sh bin/rocm-patch OUTDIR
# It writes OUTDIR/summary.txt and the JSON documents behind it.
# The shim arms itself on any GPU build of torch (ROCm or CUDA: torch.cuda is
# the same API), so its memory cap and allocation fallback run on the real
# GPU here; ROCM_PATCH_SHIM_FORCE is not set (it is for CPU-only tests and
# wraps at import, without the GPU-initialisation step). On a machine without an AMD GPU, rocm-patch itself sees none and would plan a
# CPU run; --root examples/systems/mi210 (a low-risk AMD GPU whose plan
# changes nothing) makes it plan a GPU run, which then runs on the real GPU.
set -uo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
mkdir -p "$out"
export HOME=$out/home XDG_STATE_HOME=$out/state XDG_CACHE_HOME=$out/cache
mkdir -p "$HOME"
py=${PYTHON:-python3}
sum=$out/summary.txt
say() { echo "$@" | tee -a "$sum"; }

say "== machine"
{ nvidia-smi -L 2>&1 || rocm-smi 2>&1; } | tee -a "$sum"
"$py" -c 'import torch,sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "hip", torch.version.hip, "gpu", torch.cuda.is_available())' 2>&1 | tee -a "$sum"
"$bin" --version | tee -a "$sum"

say "== 1. python/tests against this torch (shim and API)"
ROCM_PATCH_TEST_BINARY=$bin "$py" -m unittest discover -s python/tests > "$out/unittest.txt" 2>&1
tail -3 "$out/unittest.txt" | tee -a "$sum"
grep -A25 -E '^(FAIL|ERROR):' "$out/unittest.txt" | tee -a "$sum"

say "== 2. a forced GPU allocation failure under run (fraction 0.02, fallback)"
"$bin" run --root examples/systems/mi210 --memory-fraction 0.02 --shim-policy fallback -- "$py" scripts/gpu-oom.py 2>&1 | tee -a "$sum"
say "exit $?"
"$bin" history --json > "$out/history.json"
"$py" - "$out/history.json" <<'PY' | tee -a "$sum"
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
a = run["attempts"][-1]
print("history:", run["outcome"], "attempts", len(run["attempts"]), "device", a["device"], "shim", json.dumps(a.get("shim"))[:400])
PY

say "== 3. the same with --shim-policy raise (the job sees the error)"
"$bin" run -q --root examples/systems/mi210 --memory-fraction 0.02 --shim-policy raise --retries 0 -- "$py" scripts/gpu-oom.py > "$out/raise.txt" 2>&1
say "exit $? ($(grep -c OutOfMemoryError "$out/raise.txt") OutOfMemoryError lines)"

say "== 4. per-call cost of the shim's wrappers on the GPU (timeit best of 20 x 2000)"
dir=$(PYTHONPATH= "$bin" python-path)
shimdir=$(ls -d "$XDG_CACHE_HOME"/rocm-patch/shim/*/ | head -1)
for with in 0 1; do
  extra=()
  [ "$with" = 1 ] && extra=(PYTHONPATH="$shimdir" ROCM_PATCH_DEVICE=gpu)
  env "${extra[@]}" "$py" - "$with" <<'PY' 2>&1 | tee -a "$sum"
import sys, timeit, torch
torch.cuda.init()
x = torch.empty(1, device="cuda")
n = 2000
e = min(timeit.repeat(lambda: torch.empty(1, device="cuda"), number=n, repeat=20)) / n
z = min(timeit.repeat(lambda: torch.zeros_like(x), number=n, repeat=20)) / n
print(("with shim   " if sys.argv[1] == "1" else "without shim"), "torch.empty(1, device=cuda) %.0f ns, zeros_like %.0f ns" % (e * 1e9, z * 1e9),
      "wrapped" if getattr(torch.empty, "__wrapped__", None) else "bare")
PY
done

say "== 5. probe --quick on this GPU"
"$bin" probe --root examples/systems/mi210 --quick --python "$(command -v "$py")" --json > "$out/probe.json" 2> "$out/probe.err"
say "exit $?"
"$py" - "$out/probe.json" <<'PY' | tee -a "$sum"
import json, sys
d = json.load(open(sys.argv[1]))
print("torch", d.get("torch"), "notes", d.get("notes"))
for r in d["configurations"]:
    print({k: r.get(k) for k in ("name", "device", "configuration", "attempts", "ok", "crashes", "errors", "median_step_ms", "speedup_vs_cpu", "skipped", "stopped")})
PY
tail -3 "$out/probe.err" | tee -a "$sum"

say "== 6. select_device without run (no AMD GPU here: doctor's answer)"
for root in "" examples/systems/mi210 examples/systems/rx5700xt; do
  ROCM_PATCH_ROOT=$root PYTHONPATH=$dir "$py" -c 'import os, rocm_patch, torch; d = rocm_patch.safeguard(); print("root", repr(os.environ.get("ROCM_PATCH_ROOT")), "select_device:", rocm_patch.select_device(), "safeguard:", d, "torch sees GPU:", torch.cuda.is_available())' 2>&1 | tee -a "$sum"
done
