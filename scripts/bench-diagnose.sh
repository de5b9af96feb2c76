#!/usr/bin/env bash
# bench-diagnose.sh: time `rocm-patch diagnose` against GNU `grep -E` with
# the same set of patterns, in one run, on a generated log of realistic
# training and kernel-log noise with a few GPU faults in it.
#
#   scripts/bench-diagnose.sh [SIZE]      SIZE defaults to 1GB (1e9 bytes)
#
# Environment: WORK (scratch directory, default a new temporary one, removed
# at the end unless KEEP=1), RUNS (default 3; the median is reported).
#
# The log comes from internal/diagnose/internal/genlog (deterministic: the
# same bytes every time). The patterns are exported by the same code the
# matcher compiles (benchcmd -patterns: every signature, context and fact
# expression, in POSIX ERE). diagnose runs as `rocm-patch diagnose` when the
# CLI has that command, else as internal/diagnose/internal/benchcmd, which
# calls the package the same way. grep writes its matching lines, with
# numbers, to a file: GNU grep stops at the first match when its output is
# /dev/null, which would not be the same work. grep runs with LC_ALL=C, its
# fastest mode; the UTF-8 locale is timed once as well, for information.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${1:-1GB}
RUNS=${RUNS:-3}
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d)
	[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get install -y -qq time >/dev/null
	else
		echo "bench-diagnose: /usr/bin/time is missing (apt-get install time)" >&2
		exit 1
	fi
fi
grep --version | head -1 | grep -q 'GNU grep' || { echo "bench-diagnose: GNU grep required" >&2; exit 1; }

echo "== building"
go build -o "$WORK/genlog" ./internal/diagnose/internal/genlog
go build -o "$WORK/benchcmd" ./internal/diagnose/internal/benchcmd
DIAG=("$WORK/benchcmd")
DIAG_NAME="benchcmd (package diagnose)"
if [ -f cmd/rocm-patch/main.go ] && go build -o "$WORK/rocm-patch" ./cmd/rocm-patch 2>/dev/null &&
	"$WORK/rocm-patch" diagnose --help >/dev/null 2>&1; then
	DIAG=("$WORK/rocm-patch" diagnose)
	DIAG_NAME="rocm-patch diagnose"
fi
"$WORK/benchcmd" -patterns >"$WORK/patterns.ere"

echo "== generating $SIZE of noise"
"$WORK/genlog" -size "$SIZE" -o "$WORK/bench.log"
BYTES=$(stat -c %s "$WORK/bench.log")
cat "$WORK/bench.log" >/dev/null # page cache: both tools read from memory

# timed NAME OUTFILE CMD...: runs CMD under /usr/bin/time, prints "secs kb rc".
timed() {
	local out=$1
	shift
	local rc=0
	/usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >"$out" 2>>"$WORK/stderr.txt" || rc=$?
	echo "$(tail -1 "$WORK/time.txt") $rc"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$WORK/diag.times"
: >"$WORK/grep.times"
for i in $(seq 1 "$RUNS"); do
	read -r ds dk drc < <(timed "$WORK/diag.out" "${DIAG[@]}" "$WORK/bench.log")
	read -r gs gk grc < <(LC_ALL=C timed "$WORK/grep.out" grep -E -n -f "$WORK/patterns.ere" "$WORK/bench.log")
	echo "run $i: diagnose ${ds}s ${dk} KB (exit $drc), grep -E ${gs}s ${gk} KB (exit $grc)"
	echo "$ds $dk" >>"$WORK/diag.times"
	echo "$gs $gk" >>"$WORK/grep.times"
	if [ "$drc" != 3 ]; then
		echo "bench-diagnose: diagnose exited $drc, want 3 (matches found)" >&2
		cat "$WORK/stderr.txt" >&2
		exit 1
	fi
	if [ "$grc" != 0 ]; then
		echo "bench-diagnose: grep exited $grc, want 0" >&2
		cat "$WORK/stderr.txt" >&2
		exit 1
	fi
done
read -r us uk urc < <(LC_ALL=C.UTF-8 timed "$WORK/grep-utf8.out" grep -E -n -f "$WORK/patterns.ere" "$WORK/bench.log")

D=$(awk '{print $1}' "$WORK/diag.times" | median)
G=$(awk '{print $1}' "$WORK/grep.times" | median)
DK=$(awk '{print $2}' "$WORK/diag.times" | sort -n | tail -1)
GK=$(awk '{print $2}' "$WORK/grep.times" | sort -n | tail -1)
RATIO=$(awk -v g="$G" -v d="$D" 'BEGIN { if (d > 0) printf "%.2f", g / d; else print "inf" }')
MBS=$(awk -v b="$BYTES" -v d="$D" 'BEGIN { if (d > 0) printf "%.0f", b / d / 1e6; else print "inf" }')

echo
echo "== result ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), $(grep --version | head -1))"
echo "log:        $BYTES bytes, $(wc -l <"$WORK/bench.log") lines, $(wc -l <"$WORK/patterns.ere") patterns"
echo "diagnose:   median ${D}s of $RUNS (${MBS} MB/s), peak RSS ${DK} KB  [$DIAG_NAME]"
echo "grep -E:    median ${G}s of $RUNS, peak RSS ${GK} KB  [LC_ALL=C; ${us}s in C.UTF-8]"
echo "ratio:      grep time / diagnose time = $RATIO (>= 1 means diagnose is at least as fast)"
echo "found:      diagnose: $(grep -c '^[0-9]*\. ' "$WORK/diag.out" || true) matches; grep: $(wc -l <"$WORK/grep.out") lines"
