#!/usr/bin/env bash
# Measures what detect costs a whole process, beside the approach it
# replaces (importing torch to count GPUs), in one run on one machine.
# Needs hyperfine, GNU time and Debian's python3-torch:
#   apt-get install hyperfine time python3-torch
# Usage: scripts/bench-detect.sh [TREE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-examples/systems/eight-mi300x}
runs=${2:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/rocm-patch
go build -o "$bin" ./cmd/rocm-patch
py=/usr/bin/python3   # Debian's python3-torch lives here, not in a pyenv python
"$py" -c 'import torch' 2>/dev/null || { echo "needs python3-torch: apt-get install python3-torch" >&2; exit 1; }
gpus=$("$bin" detect --json --root "$tree" | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["gpus"]))')
torch_cmd="$py -c 'import torch; torch.cuda.device_count()'"

# -N runs each command without a shell, so the figures are the process's own.
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/detect.json" \
  "$bin detect --json --root $tree" >/dev/null
hyperfine -N --warmup 2 --runs 10 --export-json "$work/torch.json" "$torch_cmd" >/dev/null

# peak RSS in MB: the largest of five runs
rss_mb() { for _ in 1 2 3 4 5; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | sort -n | tail -1 | awk '{printf "%.1f", $1/1024}'; }
d_rss=$(rss_mb "$bin" detect --json --root "$tree")
t_rss=$(rss_mb "$py" -c 'import torch; torch.cuda.device_count()')

"$py" - "$work/detect.json" "$work/torch.json" "$tree" "$gpus" "$runs" "$d_rss" "$t_rss" <<'PY'
import json, sys, os, platform
d, t = (json.load(open(f))["results"][0] for f in sys.argv[1:3])
tree, gpus, runs, d_rss, t_rss = sys.argv[3:8]
dm, tm = d["median"] * 1000, t["median"] * 1000
import torch
print(f"machine: {os.cpu_count()} cores, {platform.release()}; torch {torch.__version__} (CPU build)")
print()
print("| command | median wall time | peak RSS |")
print("| --- | --- | --- |")
print(f"| `rocm-patch detect --json --root {tree}` ({gpus} GPUs, {runs} runs) | {dm:.1f} ms | {d_rss} MB |")
print(f"| `python3 -c \"import torch; torch.cuda.device_count()\"` (10 runs) | {tm:.0f} ms | {t_rss} MB |")
print()
print(f"detect takes 1/{tm/dm:.0f} of the time and 1/{float(t_rss)/float(d_rss):.0f} of the memory of importing torch.")
PY
