#!/usr/bin/env bash
# Measures what detect costs a whole process, beside the approach it
# replaces (importing torch to count GPUs), in one run on one machine.
# Usage: scripts/bench-detect.sh [TREE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-examples/systems/eight-mi300x}
runs=${2:-50}
bin=$(mktemp -d)/rocm-patch
go build -o "$bin" ./cmd/rocm-patch
py=/usr/bin/python3   # Debian's python3-torch lives here, not in a pyenv python
"$py" -c 'import torch' 2>/dev/null || { echo "needs python3-torch: apt-get install python3-torch" >&2; exit 1; }
gpus=$("$bin" detect --json --root "$tree" | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["gpus"]))')

# median wall time in ms of a command, over $runs runs
median_ms() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'
}
# peak RSS in MB of one run
rss_mb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'; }

"$bin" detect --json --root "$tree" >/dev/null   # warm the page cache
d_ms=$(median_ms "$runs" "$bin" detect --json --root "$tree")
d_rss=$(rss_mb "$bin" detect --json --root "$tree")
t_runs=$(( runs < 10 ? runs : 10 ))
t_ms=$(median_ms "$t_runs" "$py" -c 'import torch; torch.cuda.device_count()')
t_rss=$(rss_mb "$py" -c 'import torch; torch.cuda.device_count()')
ratio=$(awk -v a="$t_ms" -v b="$d_ms" 'BEGIN {printf "%.0f", a/b}')

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "torch: $("$py" -c 'import torch; print(torch.__version__)')"
echo
echo "| command | median wall time | peak RSS |"
echo "| --- | --- | --- |"
echo "| rocm-patch detect --json --root $tree ($gpus GPUs, $runs runs) | $d_ms ms | $d_rss MB |"
echo "| python3 -c \"import torch; torch.cuda.device_count()\" ($t_runs runs) | $t_ms ms | $t_rss MB |"
echo
echo "detect is ${ratio}x faster than importing torch."
