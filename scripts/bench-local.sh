#!/usr/bin/env bash
# make bench-local: the local run's figures.
#   1. `make demo` on a fresh clone with an empty Go build cache: total wall time, and the run
#      after the build (goal: under 60 s for the sample week once built).
#   2. `kpilake local run --days 365`: wall time, rows per second (rows extracted plus log
#      records, over the run's wall time), and peak RSS (goal: flat, under 1 GB); the time per
#      day as a ratio to the sample week's, measured in the same run (flat is 1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

git clone -q "$repo" "$work/clone"
start=$(seconds)
(cd "$work/clone" && GOCACHE="$work/gocache" GOFLAGS=-modcacherw make demo >"$work/demo.out" 2>&1)
built_and_ran=$(seconds)
(cd "$work/clone" && GOCACHE="$work/gocache" make demo >"$work/demo2.out" 2>&1)
again=$(seconds)
bin="$work/clone/.build/bin/kpilake"
run_start=$(seconds)
(cd "$work" && "$bin" local run --lake week --clean >"$work/week.out" 2>&1)
run_end=$(seconds)
week=$(elapsed "$run_start" "$run_end")

(cd "$work" && /usr/bin/time -v "$bin" local run --lake year --days 365 --clean >"$work/year.out" 2>"$work/year.time")
year=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/year.time")
rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/year.time")
rows=$(awk '/rows extracted/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "rows") r = $i; if ($(i+1) == "log") l = $i } } END { print r + l }' "$work/year.out")

printf '\nmake demo, fresh clone, empty build cache: %s s in all\n' "$(elapsed "$start" "$built_and_ran")"
printf 'make demo again (built): %s s\n' "$(elapsed "$built_and_ran" "$again")"
printf 'local run, sample week (7 days): %s s (goal: under 60 s)\n' "$week"
printf 'local run, 365 days: %s s, %s rows in (%.0f rows/s), peak RSS %s MB (goal: under 1024)\n' "$year" "$rows" \
	"$(awk -v r="$rows" -v s="$year" 'BEGIN { print r / s }')" "$rss"
printf 'time per day, 365 days x the week: %.2f (flat is 1.00)\n' "$(awk -v y="$year" -v w="$week" 'BEGIN { print (y / 365) / (w / 7) }')"
if [ "$rss" -gt 1024 ] || awk -v w="$week" 'BEGIN { exit !(w >= 60) }'; then
	echo "bench-local: a goal is missed" >&2
	exit 1
fi
