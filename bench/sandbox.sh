#!/usr/bin/env bash
# Sandbox benchmark (issue 3): requests per second for get-or-create and send-message with rate
# limits off, and memory with 100,000 channels and 1,000,000 messages loaded.
# Needs wrk (Debian: apt-get install wrk) and python3 (to sign the JWT and write the state file).
# Usage: bench/sandbox.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q -p gymchat
bin=target/release/gymchat
token=$(python3 - <<'PY'
import base64, hashlib, hmac, json
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head, body = b64(b'{"alg":"HS256","typ":"JWT"}'), b64(b'{"server":true}')
sig = b64(hmac.new(b"bench-secret", f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)

start_sandbox() { # extra args…; sets url and pid
  "$bin" sandbox --listen 127.0.0.1:0 --key bench --secret bench-secret --rate-limits none "$@" > "$work/out" &
  pid=$!
  for _ in $(seq 1 600); do [ -s "$work/out" ] && break; sleep 0.1; done
  url=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/out")
}

call() { curl -sf -X "$1" "$url$2?api_key=bench" -H "Authorization: $token" -H 'Content-Type: application/json' -d "$3" > /dev/null; }

cat > "$work/wrk.lua" <<'LUA'
-- One operation per run: "create" makes a new channel per request, "send" adds a uniquely
-- identified message to one channel. Each wrk thread numbers its own requests.
local counter, tid = 0, 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) op = args[1]; token = args[2] end
function request()
  counter = counter + 1
  local headers = { ["Authorization"] = token, ["Content-Type"] = "application/json" }
  if op == "create" then
    local body = '{"data":{"created_by_id":"bench_user","members":["bench_user"],"team":"gym_1"},"messages":{"limit":0}}'
    return wrk.format("POST", "/channels/messaging/b" .. tid .. "_" .. counter .. "/query?api_key=bench", headers, body)
  end
  local body = '{"message":{"id":"m' .. tid .. '_' .. counter .. '","text":"hello","user_id":"bench_user"},"skip_push":true}'
  return wrk.format("POST", "/channels/messaging/bench/message?api_key=bench", headers, body)
end
function response(status, headers, body)
  if status ~= 201 then errors = (errors or 0) + 1; if errors < 3 then print(status, body) end end
end
LUA

echo "== throughput, limits off, ${secs}s per operation, ${conns} connections, wrk with 1 thread"
start_sandbox
call POST /users '{"users":{"bench_user":{"id":"bench_user","teams":["gym_1"]}}}'
call POST /channels/messaging/bench/query '{"data":{"created_by_id":"bench_user","members":["bench_user"]}}'
for op in create send; do
  echo "-- $op"
  wrk -t1 -c"$conns" -d"${secs}s" -s "$work/wrk.lua" "$url" -- "$op" "$token" | grep -E "Requests/sec|Latency|requests in|Non-2xx"
done
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "== memory with 100,000 channels and 1,000,000 messages"
python3 - "$work/state.json" <<'PY'
import json, sys
channels = []
for c in range(100_000):
    cid = f"room_1_{c}"
    msgs = [{"id": f"{cid}-m{m}", "user_id": f"gym_1_user_{c % 500}", "text": f"message {m} of {cid}",
             "created_at": "2025-11-01T12:00:00Z"} for m in range(10)]
    channels.append({"type": "messaging", "id": cid, "team": "gym_1", "created_by_id": "gym_1_user_1",
                     "created_at": "2025-09-01T10:00:00Z", "frozen": False, "name": f"Room {c}", "gym_id": "1",
                     "members": [f"gym_1_user_{c % 500}", f"gym_1_user_{(c + 1) % 500}"], "messages": msgs})
users = [{"id": f"gym_1_user_{u}", "name": f"User {u}", "role": "user", "teams": ["gym_1"]} for u in range(500)]
json.dump({"multi_tenant_enabled": True, "users": users, "channels": channels}, open(sys.argv[1], "w"))
PY
ls -lh "$work/state.json" | awk '{print "state file:", $5}'
t0=$(date +%s.%N)
start_sandbox --fixture "$work/state.json"
t1=$(date +%s.%N)
echo "load time: $(python3 -c "print(f'{$t1 - $t0:.1f} s')")"
call POST /channels '{"filter_conditions":{"id":"room_1_99999"},"limit":1}'
grep -E "VmRSS|VmHWM" "/proc/$pid/status"
kill "$pid"; wait "$pid" 2>/dev/null || true
