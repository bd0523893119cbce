#!/usr/bin/env bash
# Draws docs/local-report.png, the README's picture of the local run's report: runs the sample week
# into a scratch lake and takes a screenshot of lake/report.html with headless Chromium.
# Needs Chromium (Debian: apt-get install chromium) and a C compiler (DuckDB).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$browser" ]]; then
	echo "report-picture needs Chromium: apt-get install chromium (macOS: brew install --cask chromium)" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=1 go build -o "$work/kpilake" ./cmd/kpilake
(cd "$work" && ./kpilake local run --lake lake >/dev/null)
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
	--window-size=1000,1500 --screenshot="$work/report.png" "file://$work/lake/report.html" 2>/dev/null
mv "$work/report.png" docs/local-report.png
echo "docs/local-report.png"
