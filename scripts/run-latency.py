"""Time added by `rocm-patch run` in front of `true`, for machines without
hyperfine (scripts/bench-run.sh is the full benchmark): medians of N runs
each through subprocess, `true` measured before and after.

Usage: python3 scripts/run-latency.py BIN [N]     e.g. bin/rocm-patch 200
"""
import statistics
import subprocess
import sys
import time


def median_ms(cmd, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    run = [binary, "run", "-q", "--", "true"]
    for _ in range(20):  # warm the caches and the history file
        subprocess.run(run, stdout=subprocess.DEVNULL, check=False)
    before = median_ms(["true"], n)
    through = median_ms(run, n)
    after = median_ms(["true"], n)
    plain = (before + after) / 2
    print("true %.2f ms, rocm-patch run -q -- true %.2f ms: %.2f ms added (median of %d)" % (plain, through, through - plain, n))


main()
