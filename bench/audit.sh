#!/usr/bin/env bash
# Audit benchmark (issue 9): one gym of N rooms (default 100,000), each with its channel of team
# gym_7 and two of 2,000 members, audited against the sandbox (a separate process) under Stream's
# default limits at --time-scale 60 and gymchat's default rate budget.
#
# Figures come from independent observers: the audit's wall time, CPU time and peak memory from
# GNU time, the QueryChannels calls from the sandbox's own counters, the sandbox's CPU time from
# the kernel. The floor is those calls divided by the rate the budget allows (0.5 × 10,000 per
# minute, a minute lasting a second).
#
# Usage: bench/audit.sh [ROOMS]   (needs python3 and /usr/bin/time)
set -euo pipefail
cd "$(dirname "$0")/.."
rooms="${1:-100000}"
work="$(mktemp -d)"
trap 'kill $sandbox 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build -q --release -p gymchat
gymchat="$PWD/target/release/gymchat"

python3 - "$rooms" "$work/big.json" <<'EOF'
import json, sys, datetime
n, out = int(sys.argv[1]), sys.argv[2]
people = 2000
start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
db = {
    "gyms": [{"id": 7, "name": "Big", "subdomain": "big", "is_active": True}],
    "user": [{"id": u, "email": f"u{u}@example.test", "is_active": True, "role": "MEMBER"} for u in range(1, people + 1)],
    "user_gyms": [{"user_id": u, "gym_id": 7, "role": "MEMBER", "is_active": True} for u in range(1, people + 1)],
    "chat_rooms": [], "chat_members": [],
}
stream = {"multi_tenant_enabled": True,
          "users": [{"id": f"gym_7_user_{u}", "teams": ["gym_7"]} for u in range(1, people + 1)],
          "channels": []}
for r in range(1, n + 1):
    a, b = (r % people) + 1, ((r * 7) % people) + 1
    if a == b:
        b = a % people + 1
    cid = f"room_7_{r}"
    created = (start + datetime.timedelta(seconds=r // 3)).isoformat().replace("+00:00", "Z")
    db["chat_rooms"].append({"id": r, "stream_channel_id": cid, "name": f"R{r}", "gym_id": 7, "status": "ACTIVE",
                             "created_at": created, "updated_at": created})
    db["chat_members"] += [{"room_id": r, "user_id": a}, {"room_id": r, "user_id": b}]
    stream["channels"].append({"type": "messaging", "id": cid, "team": "gym_7", "created_by_id": f"gym_7_user_{a}",
                               "created_at": created, "members": [f"gym_7_user_{a}", f"gym_7_user_{b}"],
                               "gym_id": "7", "name": f"R{r}"})
json.dump({"db": db, "stream": stream}, open(out, "w"))
EOF

export DATABASE_URL="sqlite://$work/big.db" STREAM_KEY=bench STREAM_SECRET=bench-secret
# The sandbox's windows last a second; the audit is told so (RATE_WINDOW=60 makes it learn them).
export GYMCHAT_RATE_WINDOW="${RATE_WINDOW:-1}"
"$gymchat" db load-fixture "$work/big.json" > /dev/null
"$gymchat" sandbox --listen 127.0.0.1:0 --key bench --secret bench-secret --time-scale 60 \
  --fixture "$work/big.json" > "$work/sandbox.out" &
sandbox=$!
for _ in $(seq 1 600); do grep -q url "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
export STREAM_URL="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/sandbox.out")"

# The sandbox's CPU time (user + system clock ticks, from the kernel) before and after the audit.
sandbox_ticks() { awk '{ print $14 + $15 }' "/proc/$sandbox/stat"; }
before="$(sandbox_ticks)"
status=0
/usr/bin/time -v -o "$work/time.txt" "$gymchat" audit --gym-id 7 --out "$work/report.json" > /dev/null 2> "$work/audit.err" || status=$?
sandbox_cpu="$(( $(sandbox_ticks) - before ))"
python3 - "$work" "$STREAM_URL" "$status" "$sandbox_cpu" "$(getconf CLK_TCK)" <<'EOF'
import json, sys, urllib.request
work, url, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
sandbox_cpu = int(sys.argv[4]) / int(sys.argv[5])
t = {}
for line in open(f"{work}/time.txt"):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
wall = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"]
parts = [float(p) for p in wall.split(":")]
seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
rss_mib = int(t["Maximum resident set size (kbytes)"]) / 1024
stats = json.load(urllib.request.urlopen(f"{url}/_sandbox/stats"))
calls = stats["operations"].get("QueryChannels", {}).get("calls", 0)
allowed = 0.5 * 10_000  # per second: the default budget of 10,000 a minute, a minute lasting a second
floor = calls / allowed
report = json.load(open(f"{work}/report.json"))
s = report["gyms"][0]["summary"]
print(f"audit exit {status}: {s['synced']} synced, {s['stream_only']} stream-only, {s['db_only']} db-only of "
      f"{s['total_stream_channels']} channels and {s['total_db_chatrooms']} rooms")
print(f"wall {seconds:.2f} s; QueryChannels calls {calls}; floor {floor:.2f} s; wall / floor {seconds / floor:.2f}; "
      f"peak RSS {rss_mib:.0f} MiB; 429s {stats['operations'].get('QueryChannels', {}).get('rate_limited', 0)}")
audit_cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
print(f"CPU during the audit: audit {audit_cpu:.2f} s, sandbox {sandbox_cpu:.2f} s, together "
      f"{(audit_cpu + sandbox_cpu) / seconds:.2f} of the machine's {len(__import__('os').sched_getaffinity(0))} cores")
EOF
