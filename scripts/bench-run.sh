#!/usr/bin/env bash
# Measures what supervising a command costs, against running it plainly, on
# the three figures of issue 4:
#   - time added to `true` (median of RUNS runs; target: at most 5 ms);
#   - throughput of a child writing 1 GiB of 10 MB lines with \r progress
#     bars, through the supervisor against into a plain pipe (target: at
#     least half);
#   - the supervisor's peak RSS while it passes that 1 GiB on, with a log
#     and the line splitter running (target: at most 40 MB).
# Each figure is taken twice: for `rocm-patch run` itself (which also
# detects the machine, loads the knowledge base, decides, and writes the
# run's history), and for benchmain, the smallest program on package
# supervise, which isolates what supervising alone costs.
# Needs hyperfine, GNU time and python3:  apt-get install hyperfine time
# Usage: scripts/bench-run.sh [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
rounds=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built as `make build` does: static (CGO_ENABLED=0).
export CGO_ENABLED=0
go build -o "$work/benchmain" ./internal/supervise/internal/benchmain
go build -o "$work/rocm-patch" ./cmd/rocm-patch
# rocm-patch run writes its history and attempt logs under XDG_STATE_HOME.
export XDG_STATE_HOME=$work/state
RP="$work/rocm-patch run -q --"
go build -o "$work/writer" ./internal/testutil/testprog
# A binary the linker has just written sits in the page cache in small
# pieces; run from there, rocm-patch took ~50 more page faults and 0.3-0.5
# ms more per start than the same file read back in, as the first start
# after an install or a reboot reads it (readahead). Each binary is evicted
# and read back, so the figures are those of an installed binary.
python3 - "$work/benchmain" "$work/rocm-patch" "$work/writer" <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while os.read(fd, 1 << 17):
        pass
    os.close(fd)
PY
SUP="$work/benchmain --"
true_bin=$(command -v true)
gib=$((1 << 30))
writer="$work/writer write -total $gib -line 10000000 -bars 5"
sink="dd of=/dev/null bs=1M status=none"

# 1. Start-up and shutdown: -N runs each command without a shell, and
# hyperfine sends their output to /dev/null. The machine's speed drifts
# over minutes, so the three commands take turns in rounds and the medians
# are over all rounds.
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 10 --runs $(( (runs + rounds - 1) / rounds )) --export-json "$work/true$r.json" \
    "$SUP $true_bin" "$true_bin" "$RP $true_bin" >/dev/null 2>"$work/hf.err" || { cat "$work/hf.err" >&2; exit 1; }
done

# 2. Throughput. The machine's speed drifts (other load, where the two
# ends of a pipe are scheduled), so the commands alternate in rounds and
# the medians over all rounds are compared.
#   plain:    the writer into a pipe read by dd
#   through:  the writer through the supervisor, whose output goes into a
#             pipe read by dd: the same end point, one hop more
#   devnull:  the supervisor's output to /dev/null: its own cost alone
#   log:      as devnull, and a log file of every byte, as rocm-patch run
#             keeps; a new file each run, as each attempt has its own
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 1 --runs 3 --prepare "rm -f $work/run.log" --export-json "$work/tp$r.json" \
    "bash -c '$writer | $sink'" \
    "bash -c '$SUP $writer | $sink'" \
    "$SUP $writer" \
    "$work/benchmain -log $work/run.log -- $writer" \
    "bash -c '$RP $writer | $sink'" >/dev/null 2>"$work/hf.err" || { cat "$work/hf.err" >&2; exit 1; }
done
rm -f "$work/run.log"
# What writing 1 GiB to a file costs here bounds the log variant.
hyperfine -N --runs 3 --prepare "rm -f $work/dd.out" --export-json "$work/file.json" \
  "dd if=/dev/zero of=$work/dd.out bs=1M count=1024 status=none" >/dev/null 2>"$work/hf.err" || { cat "$work/hf.err" >&2; exit 1; }
rm -f "$work/dd.out"

# 3. Peak RSS in KB, the largest of three runs, as the supervisor's own
# VmHWM: GNU time's %M reports the larger of the supervisor and the child
# (the rusage of a waited-for process covers its descendants), and this
# writer is the larger. %M is printed too, for comparison with `time`.
rss() { for _ in 1 2 3; do "$work/benchmain" -stats "$@" 2>&1 >/dev/null | sed -n 's/.*peak_rss_kb=//p'; rm -f "$work/run.log"; done | sort -n | tail -1; }
time_m() { for _ in 1 2 3; do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; rm -f "$work/run.log"; done | sort -n | tail -1; }
rss_flood=$(rss -log "$work/run.log" -- $writer)
rss_true=$(rss -- "$true_bin")
time_flood=$(time_m "$work/benchmain" -log "$work/run.log" -- $writer)
time_writer=$(time_m $writer)
# rocm-patch run's peak RSS with a child smaller than itself (`true`), and
# with the 1 GiB writer (GNU time reports the larger of the two).
rp_true=$(time_m $RP "$true_bin")
rp_flood=$(time_m $RP $writer)

python3 - "$work" "$rounds" "$runs" "$rss_flood" "$rss_true" "$time_flood" "$time_writer" "$rp_true" "$rp_flood" <<'PY'
import json, os, platform, statistics, sys
work, rounds, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rss_flood, rss_true, time_flood, time_writer, rp_true, rp_flood = (int(a) for a in sys.argv[4:10])
load = lambda f: json.load(open(os.path.join(work, f)))["results"]
start = [[] for _ in range(3)]
for r in range(1, rounds + 1):
    for i, res in enumerate(load(f"true{r}.json")):
        start[i].extend(res["times"])
sup, plain, rp = ({"median": statistics.median(t)} for t in start)
runs = len(start[2])
added = (sup["median"] - plain["median"]) * 1000
rp_added = (rp["median"] - plain["median"]) * 1000
times = [[] for _ in range(5)]
for r in range(1, rounds + 1):
    for i, res in enumerate(load(f"tp{r}.json")):
        times[i].extend(res["times"])
med = [statistics.median(t) for t in times]
best = [min(t) for t in times]
gib = 1 << 30
rate = lambda s: gib / s / 1e9
file_s = statistics.median(load("file.json")[0]["times"])
print(f"machine: {os.cpu_count()} cores, Linux {platform.release()}")
print()
print("| measure | plain | supervised | figure | target |")
print("| --- | --- | --- | --- | --- |")
print(f"| `rocm-patch run -q -- true` vs `true`, median of {runs} runs | {plain['median']*1000:.2f} ms | {rp['median']*1000:.2f} ms | +{rp_added:.2f} ms | <= 5 ms |")
print(f"| supervise alone (benchmain -- true) vs `true` | {plain['median']*1000:.2f} ms | {sup['median']*1000:.2f} ms | +{added:.2f} ms | |")
print(f"| 1 GiB of 10 MB lines through `rocm-patch run` into a pipe to dd, median of {len(times[4])} runs | {rate(med[0]):.2f} GB/s | {rate(med[4]):.2f} GB/s | {med[0]/med[4]:.2f} of plain | >= 0.5 |")
print(f"| peak RSS (GNU time) of `rocm-patch run -q -- true` | | {rp_true/1024:.1f} MB | | <= 40 MB |")
print(f"| peak RSS (GNU time) of `rocm-patch run` passing 1 GiB on: the larger of it and the writer | | {rp_flood/1024:.1f} MB | | <= 40 MB |")
print(f"| 1 GiB of 10 MB lines into a pipe to dd, median of {len(times[0])} runs | {rate(med[0]):.2f} GB/s | {rate(med[1]):.2f} GB/s | {med[0]/med[1]:.2f} of plain | >= 0.5 |")
print(f"| same, best run | {rate(best[0]):.2f} GB/s | {rate(best[1]):.2f} GB/s | {best[0]/best[1]:.2f} of plain | |")
print(f"| same, supervisor's output to /dev/null | | {rate(med[2]):.2f} GB/s | {med[0]/med[2]:.2f} of plain | |")
print(f"| same, and a log file of every byte | | {rate(med[3]):.2f} GB/s | {med[0]/med[3]:.2f} of plain | (writing 1 GiB to a file here: {rate(file_s):.2f} GB/s) |")
print(f"| peak RSS passing 1 GiB on, with log and line splitting | | {rss_flood/1024:.1f} MB | | <= 40 MB |")
print(f"| peak RSS running `true` | | {rss_true/1024:.1f} MB | | |")
print()
print(f"GNU time's %M for the 1 GiB run is {time_flood/1024:.1f} MB: the writer's own peak ({time_writer/1024:.1f} MB alone), not the supervisor's.")
PY
