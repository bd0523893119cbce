#!/usr/bin/env bash
# Measures `make synth ENV=<env>` for every environment against an empty CDK Go app (the `cdk init
# app --language go` stack, same CDK versions and feature flags), synthesized on this machine in
# the same run. Reports the median wall time and peak RSS (largest process: the jsii Node runtime
# or the Go app) over RUNS runs each, and the ratios. Builds are warmed first, so the figures are
# synth, not compilation.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
export PATH="$PWD/node_modules/.bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The empty app: the stack `cdk init` generates (plus one placeholder resource), with the project's module versions and flags.
mkdir -p "$work/empty"
cat > "$work/empty/main.go" <<'GO'
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("EmptyStack"), nil)
	// CloudFormation rejects a template without resources; one placeholder keeps it valid.
	awscdk.NewCfnWaitConditionHandle(stack, jsii.String("Placeholder"), nil)
	app.Synth(nil)
}
GO
cp go.mod go.sum "$work/empty/"
(cd "$work/empty" && go mod edit -module emptyapp -dropignore=./node_modules && go build -o app .)
python3 - "$work/empty/cdk.json" <<'PY'
import json, sys
ctx = json.load(open("cdk.json"))["context"]
ctx.pop("kpilake")
json.dump({"app": "./app", "context": ctx}, open(sys.argv[1], "w"))
PY
# The same app as `cdk init` writes it: its cdk.json runs `go mod download && go run`, as this
# project's runs `go run`, so both pay Go's check that the app binary is up to date. This is the
# baseline of the goal; the prebuilt binary above is the stricter one, reported too.
cp -r "$work/empty" "$work/empty-run"
rm -f "$work/empty-run/app"
python3 - "$work/empty-run/cdk.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["app"] = "go mod download && go run main.go"
json.dump(c, open(sys.argv[1], "w"))
PY

measure() { # label dir args...: prints "seconds maxrss_kb" per run, then the median line
  local label=$1 dir=$2; shift 2
  python3 - "$label" "$dir" "$RUNS" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
label, cwd, runs, cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
walls, rss = [], []
for _ in range(runs):
    # each run in a fresh interpreter so that ru_maxrss is this run's own peak
    out = subprocess.run([sys.executable, "-c", """
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[2:], cwd=sys.argv[1], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""", cwd] + cmd, check=True, capture_output=True, text=True).stdout.split()
    walls.append(float(out[0])); rss.append(int(out[1]))
print(f"{label} {statistics.median(walls):.2f} {statistics.median(rss)//1024}")
PY
}

make --no-print-directory synth >/dev/null   # warm: Go build cache, Lambda builds, npm
for d in empty empty-run; do   # warm: the empty apps' builds (go run caches its binary)
  (cd "$work/$d" && cdk synth --no-notices --no-version-reporting -q -o "$work/$d.out" >/dev/null)
done

results="$work/results"
measure empty "$work/empty-run" cdk synth --no-notices --no-version-reporting -q -o "$work/empty-run.out" > "$results"
measure empty-bin "$work/empty" cdk synth --no-notices --no-version-reporting -q -o "$work/empty.out" >> "$results"
envs=$(python3 -c 'import json; print(" ".join(sorted(json.load(open("cdk.json"))["context"]["kpilake"]["environments"])))')
for e in $envs; do
  measure "$e" "$PWD" make --no-print-directory synth ENV="$e" >> "$results"
done

echo "make synth vs. an empty CDK Go app (median of $RUNS runs, $(nproc) cores)"
echo "empty: as cdk init writes it (go mod download && go run); empty-bin: the same app prebuilt"
awk 'NR==1 {w=$2; r=$3; printf "%-9s %7.2f s %6d MB   (baseline)\n", $1, $2, $3; next}
     NR==2 {b=$2; printf "%-9s %7.2f s %6d MB   time x%.2f, RSS x%.2f\n", $1, $2, $3, $2/w, $3/r; next}
     {printf "%-9s %7.2f s %6d MB   time x%.2f, RSS x%.2f (x%.2f the prebuilt empty app)\n", $1, $2, $3, $2/w, $3/r, $2/b}' "$results"
