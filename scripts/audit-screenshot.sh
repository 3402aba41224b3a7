#!/usr/bin/env bash
# Renders the audit's HTML report of the reference scenario and takes a screenshot of it with
# headless Chromium (Debian's `chromium` package: `apt-get install chromium`), so the page can be
# checked as an operator sees it. Usage: scripts/audit-screenshot.sh [OUT_DIR] (default target/audit-shot).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-target/audit-shot}")"
mkdir -p "$out"
rm -f "$out/gym4.db" "$out"/audit_*.json
cargo build -q -p gymchat
gymchat=target/debug/gymchat
export DATABASE_URL="sqlite://$out/gym4.db" STREAM_KEY=shot STREAM_SECRET=shot-secret
"$gymchat" db load-fixture fixtures/gym4.json > /dev/null
"$gymchat" sandbox --listen 127.0.0.1:0 --key shot --secret shot-secret --rate-limits none \
  --fixture fixtures/gym4.json > "$out/sandbox.out" &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q url "$out/sandbox.out" 2>/dev/null && break; sleep 0.1; done
export STREAM_URL="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$out/sandbox.out")"
(cd "$out" && "$OLDPWD/$gymchat" audit --gym-id 4 --gym-id 5 --html report.html > /dev/null) || [ $? -eq 1 ]
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --hide-scrollbars \
  --window-size=1280,2400 --screenshot="$out/report.png" "file://$out/report.html" 2>/dev/null
echo "$out/report.png"
