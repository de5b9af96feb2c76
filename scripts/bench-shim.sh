#!/usr/bin/env bash
# Measures what the in-process shim costs (issue 5):
#   (a) start-up: `python -c pass` with the shim folder first on PYTHONPATH
#       against without it (hyperfine -N, RUNS runs each, medians), and the
#       import time of sitecustomize itself from -X importtime (medians of
#       RUNS runs), the cost without process noise;
#   (b) per call: torch.empty(1) and Tensor.to through the shim's wrappers
#       (ROCM_PATCH_SHIM_FORCE=1 wraps them on a CPU-only torch) against the
#       bare functions, timeit best of REPEAT repeats (target: <= 1 us).
# The shim is the one shim.Install writes, into a temporary cache folder.
# Needs hyperfine and a Python with torch (Debian: apt-get install hyperfine
# python3-torch).
# Usage: scripts/bench-shim.sh [RUNS] [REPEAT]     (PYTHON=/usr/bin/python3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
repeat=${2:-30}
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Everything that could steer the shim or Python's path goes.
unset PYTHONPATH PYTORCH_CUDA_ALLOC_CONF PYTORCH_HIP_ALLOC_CONF $(compgen -e | grep '^ROCM_PATCH_' || true)

dir=$(go run ./internal/shim/internal/installshim "$work/cache")
# One run first, so that both sides start with compiled bytecode (the shim's
# __pycache__ is written into its folder at its first use, as in real runs).
env PYTHONPATH="$dir" "$py" -c pass

# (a) Both sides go through env(1), so they pay the same exec cost. The
# machine's speed drifts, so the runs are split into rounds that alternate
# the two commands, and the medians are over all rounds.
rounds=3
per=$(( (runs + rounds - 1) / rounds ))
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 3 --runs "$per" --export-json "$work/start$r.json" \
    "env $py -c pass" "env PYTHONPATH=$dir $py -c pass" >/dev/null 2>"$work/hf.err" || { cat "$work/hf.err" >&2; exit 1; }
done

imptime() { # median microseconds of sitecustomize's cumulative import time
  for _ in $(seq "$runs"); do
    env "$@" "$py" -X importtime -c pass 2>&1 | awk -F'|' '$3 ~ /^ *sitecustomize$/ {print $2+0}'
  done | sort -n | awk '{v[NR]=$1} END {if (NR==0) print "none"; else print v[int((NR+1)/2)]}'
}
imp_plain=$(imptime PYTHONNOUSERSITE=1)
imp_shim=$(imptime PYTHONNOUSERSITE=1 PYTHONPATH="$dir")

# (b)
env PYTHONPATH="$dir" ROCM_PATCH_SHIM_FORCE=1 "$py" - "$repeat" >"$work/calls.txt" <<'PY'
import sys, timeit, torch
from rocm_patch import shim
assert shim.state()["wrapped"], "the shim did not wrap torch"
repeat = int(sys.argv[1])
x = torch.zeros(4)
cases = [
    ("torch.empty(1)", torch.empty.__wrapped__, torch.empty, lambda f: f(1)),
    ("torch.empty(1, dtype=torch.float32)", torch.empty.__wrapped__, torch.empty, lambda f: f(1, dtype=torch.float32)),
    ("torch.zeros_like(x)", torch.zeros_like.__wrapped__, torch.zeros_like, lambda f: f(x)),
    ("x.to(torch.float32) (returns x)", torch.Tensor.to.__wrapped__, torch.Tensor.to, lambda f: f(x, torch.float32)),
]
bare_empty = torch.empty.__wrapped__
def forward_only(*a, **k):  # the Python frame alone, no try block
    return bare_empty(*a, **k)
cases.append(("forwarding without try, torch.empty(1)", bare_empty, forward_only, lambda f: f(1)))
n = 20000
for name, bare, wrapped, call in cases:
    b = w = float("inf")
    for _ in range(3):  # interleaved, so that load drift hits both
        b = min(b, min(timeit.repeat(lambda: call(bare), number=n, repeat=repeat)) / n)
        w = min(w, min(timeit.repeat(lambda: call(wrapped), number=n, repeat=repeat)) / n)
    print("%s\t%.0f\t%.0f\t%.0f" % (name, b * 1e9, w * 1e9, (w - b) * 1e9))
PY

"$py" - "$work" "$runs" "$repeat" "$imp_plain" "$imp_shim" "$py" "$rounds" <<'PY'
import json, os, platform, statistics, sys
work, runs, repeat, imp_plain, imp_shim, py, rounds = sys.argv[1:8]
times = [[], []]
for r in range(1, int(rounds) + 1):
    for i, res in enumerate(json.load(open(os.path.join(work, f"start{r}.json")))["results"]):
        times[i].extend(res["times"])
plain, shim = ({"median": statistics.median(t), "mean": statistics.mean(t), "stddev": statistics.stdev(t), "n": len(t)} for t in times)
runs = plain["n"]
ms = lambda s: s * 1000
torch_v = os.popen(py + " -c 'import torch; print(torch.__version__)'").read().strip()
print(f"machine: {os.cpu_count()} cores, Linux {platform.release()}; {py} (Python {platform.python_version()}), torch {torch_v} (CPU build)")
print()
print("| measure | without shim | with shim | difference |")
print("| --- | --- | --- | --- |")
d = ms(shim["median"] - plain["median"])
print(f"| `python -c pass`, median of {runs} runs in {rounds} rounds | {ms(plain['median']):.2f} ms | {ms(shim['median']):.2f} ms | {d:+.2f} ms |")
print(f"| same, mean ± σ | {ms(plain['mean']):.2f} ± {ms(plain['stddev']):.2f} ms | {ms(shim['mean']):.2f} ± {ms(shim['stddev']):.2f} ms | |")
if imp_plain != "none" and imp_shim != "none":
    print(f"| sitecustomize import (-X importtime), median of {sys.argv[2]} runs | {int(imp_plain)} µs (the system's own) | {int(imp_shim)} µs (ours, chaining the system's) | {int(imp_shim) - int(imp_plain):+d} µs |")
print()
print(f"Per call, timeit best of {repeat} repeats x 3 rounds (ROCM_PATCH_SHIM_FORCE=1; target: at most 1 µs added):")
print()
print("| call | bare | through the shim | added |")
print("| --- | --- | --- | --- |")
for line in open(os.path.join(work, "calls.txt")):
    name, b, w, a = line.rstrip("\n").split("\t")
    print(f"| `{name}` | {b} ns | {w} ns | {a} ns |")
PY
