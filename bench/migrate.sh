#!/usr/bin/env bash
# Migration benchmark (issue 10): a synthetic tenant (default 2,000 users and 1,500 rooms, from
# `gymchat sandbox generate`) migrated against the release sandbox in its own process, under
# Stream's default limits at --time-scale 60 (a one-minute window lasts one second; TIME_SCALE=N
# in the environment for another scale, e.g. 10: six-second windows).
#
# Figures come from independent observers: wall time from GNU time, calls per operation and the
# per-window counts from the sandbox's own counters. The floor is, per phase, the slowest
# operation's calls divided by its allowed rate (the sandbox's limit for it × budget per scaled
# window); the
# phases are the plan's reads (measured by a separate `migrate plan`), the users, the channels.
#
# Usage: bench/migrate.sh [SCENARIO] [ROOMS] [USERS]
#   SCENARIO: rebuild (history none, budget 1.0; default), copy (history copy, 50 messages a room,
#   budget 1.0), default-budget (history none, budget 0.5), one-at-a-time (history none, budget
#   1.0, --concurrency 1), seed (history none, budget 1.0, one call at a time with a fixed sleep
#   after each: the rate window ÷ the operation's documented limit, never reading the headers).
#   Needs python3 and /usr/bin/time.
#   GYMS=N: N gyms of ROOMS rooms and USERS users each (default 1); a gym's channels are worked
#   by one worker at a time (each keeps its gym's channel-list order), so workers share a run
#   gym by gym.
#   WORKERS=N (N > 1): the run is worked by `apply` and N-1 `migrate work` processes started as
#   soon as it is open, on a PostgreSQL database made for the run (needs psql; PostgreSQL as for
#   the tests, GYMCHAT_TEST_POSTGRES_URL or 127.0.0.1:5432); the wall time is then from apply's
#   start until the last worker ended.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-rebuild}"
rooms="${2:-1500}"
users="${3:-2000}"
scale="${TIME_SCALE:-60}"
workers="${WORKERS:-1}"
gyms="${GYMS:-1}"
work="$(mktemp -d)"
pg="${GYMCHAT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg="${pg%/*}"
db="gymchat_bench_migrate_$$"
cleanup() {
  kill $sandbox 2>/dev/null || true
  rm -rf "$work"
  if [ "$workers" -gt 1 ]; then psql -q "$pg/test" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; fi
}
trap cleanup EXIT

history=none; budget=1.0; messages=0; concurrency="${CONCURRENCY:-32}"; fixed_sleeps=false
case "$scenario" in
  rebuild) ;;
  copy) history=copy; messages=50 ;;
  default-budget) budget=0.5 ;;
  one-at-a-time) concurrency=1 ;;
  seed) concurrency=1; fixed_sleeps=true ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac

cargo build -q --release -p gymchat
gymchat="$PWD/target/release/gymchat"
"$gymchat" sandbox generate --out "$work/tenant.json" --gyms "$gyms" --users "$users" --rooms "$rooms" \
  --messages "$messages" > /dev/null

database="sqlite://$work/tenant.db"
if [ "$workers" -gt 1 ]; then
  command -v psql > /dev/null || { echo "WORKERS > 1 needs psql and PostgreSQL" >&2; exit 2; }
  psql -q "$pg/test" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  database="$pg/$db"
fi
export DATABASE_URL="$database" STREAM_KEY=bench STREAM_SECRET=bench-secret GYMCHAT_RATE_BUDGET="$budget" \
  GYMCHAT_RATE_WINDOW="${RATE_WINDOW:-$(python3 -c "print(60 / $scale)")}"
"$gymchat" db load-fixture "$work/tenant.json" > /dev/null
"$gymchat" sandbox --listen 127.0.0.1:0 --key bench --secret bench-secret --time-scale "$scale" --rate-limits "${SANDBOX_LIMITS:-stream}" \
  --fixture "$work/tenant.json" > "$work/sandbox.out" &
sandbox=$!
for _ in $(seq 1 600); do grep -q url "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
export STREAM_URL="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/sandbox.out")"

curl -s -X POST "$STREAM_URL/_sandbox/stats/reset" > /dev/null
"$gymchat" migrate plan --all --history "$history" --out "$work/plan.json" > /dev/null 2>&1
curl -s "$STREAM_URL/_sandbox/stats" > "$work/plan-stats.json"
curl -s -X POST "$STREAM_URL/_sandbox/stats/reset" > /dev/null
status=0
started=$(date +%s.%N)
GYMCHAT_FIXED_SLEEPS="$fixed_sleeps" /usr/bin/time -v -o "$work/time.txt" "$gymchat" migrate apply --plan "$work/plan.json" --yes \
  --concurrency "$concurrency" > "$work/report.json" 2> "$work/apply.err" &
apply=$!
others=()
if [ "$workers" -gt 1 ]; then
  for _ in $(seq 1 600); do
    run=$("$gymchat" migrate status 2> /dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["run_id"] if r else "")')
    [ -n "$run" ] && break
    sleep 0.05
  done
  for i in $(seq 2 "$workers"); do
    "$gymchat" migrate work "$run" --concurrency "$concurrency" > "$work/work-$i.json" 2> "$work/work-$i.err" &
    others+=($!)
  done
fi
wait $apply || status=$?
for pid in "${others[@]}"; do wait "$pid" || status=$?; done
ended=$(date +%s.%N)
curl -s "$STREAM_URL/_sandbox/stats" > "$work/apply-stats.json"

python3 - "$work" "$status" "$budget" "$scenario" "$scale" "$workers" "$started" "$ended" <<'EOF'
import glob, json, sys
work, status, budget, scenario, scale = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
workers, started, ended = int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
limits = {"GetOrCreateChannel": 10000, "QueryChannels": 10000, "QueryUsers": 1000, "SendMessage": 1000,
          "GetMessage": 1000, "UpdateUsers": 300, "UpdateUsersPartial": 300, "UpdateChannel": 300}
t = {}
for line in open(f"{work}/time.txt"):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
parts = [float(p) for p in t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
if workers > 1:
    # From apply's start until the last worker ended.
    wall = ended - started
plan = json.load(open(f"{work}/plan-stats.json"))["operations"]
apply = json.load(open(f"{work}/apply-stats.json"))["operations"]
calls = lambda ops, op: ops.get(op, {}).get("calls", 0)
def limit(op):
    # The sandbox's own limit for the operation (its windows say it), else the documented one.
    windows = apply.get(op, {}).get("windows") or plan.get(op, {}).get("windows") or []
    return windows[0]["limit"] if windows else limits.get(op, 60)
rate = lambda op: limit(op) * budget * scale / 60  # per second: a minute lasts 60/scale s
reads = max((calls(plan, op) / rate(op) for op in plan), default=0)
users = sum(calls(apply, op) / rate(op) for op in ("UpdateUsers", "UpdateUsersPartial"))
channel_ops = {op: calls(apply, op) - calls(plan, op) for op in apply if op not in ("UpdateUsers", "UpdateUsersPartial")}
channels = max((n / rate(op) for op, n in channel_ops.items()), default=0)
floor = reads + users + channels
report = json.load(open(f"{work}/report.json"))
limited = sum(o.get("rate_limited", 0) for o in apply.values())
limited_by_op = {op: o["rate_limited"] for op, o in apply.items() if o.get("rate_limited")}
print(f"scenario {scenario}: apply exit {status}, state {report.get('state')}, {report.get('users_done')} users, "
      f"{report.get('channels_done')} channels, {len(report.get('failed', []))} failed")
if workers > 1:
    done = [json.load(open(f)) for f in sorted(glob.glob(f"{work}/work-*.json"))]
    print(f"{workers} workers: the others did " + ", ".join(f"{d.get('items_done')} items ({d.get('items_failed')} failed)" for d in done))
    over = {op: [w["accepted"] for w in o.get("windows", []) if w["accepted"] > int(w["limit"] * budget)] for op, o in apply.items()}
    print("windows over the budget:", {op: n for op, n in over.items() if n} or "none")
print("apply calls: " + ", ".join(f"{op} {o['calls']}" for op, o in sorted(apply.items())))
print(f"floor: reads {reads:.2f} s + users {users:.2f} s + channels {channels:.2f} s = {floor:.2f} s; "
      f"wall {wall:.2f} s; wall / floor {wall / floor:.3f}; 429s {limited} {limited_by_op}; peak RSS "
      f"{int(t['Maximum resident set size (kbytes)']) / 1024:.0f} MiB")
for op in ("UpdateChannel", "GetOrCreateChannel", "SendMessage"):
    print(op, "accepted per window:", [w["accepted"] for w in apply.get(op, {}).get("windows", [])])
sends = apply.get("SendMessage", {}).get("windows", [])
busy = [w for w in sends if w.get("accepted", 0) > 0][1:-1]
if busy:
    use = sum(w["accepted"] for w in busy) / sum(w["limit"] for w in busy)
    print(f"SendMessage utilisation over {len(busy)} full windows: {use:.3f}")
EOF
