#!/usr/bin/env bash
# Chat service benchmark (issues 11 and 20): GET /api/v1/chat/token and GET /api/v1/chat/my-rooms
# for one member of a gym of 1,000 members and 5,000 rooms (`gymchat sandbox generate`), on
# PostgreSQL, with the sandbox (a separate process) standing in for Stream; then Stream's signed
# `message.new` webhook, each delivery with its own id and one offline member to notify, with
# push on and a fake OneSignal (a small Python server in its own process) receiving the pushes.
#
# Figures come from independent observers: throughput and latency percentiles from wrk (Debian's
# package), database statements per request from PostgreSQL's own counter of committed
# transactions (pg_stat_database.xact_commit; every statement of the service runs in its own),
# Stream calls per request from the sandbox's counters, pushes and when they arrived from the fake
# OneSignal's own count.
#
# Usage: bench/service.sh [SECONDS] [CONNECTIONS]   (needs wrk, psql, python3; PostgreSQL on
# 127.0.0.1:5432 with trust auth, as the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
connections="${2:-16}"
command -v wrk > /dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
work="$(mktemp -d)"
db=gymchat_bench_service
pg="postgres://postgres@127.0.0.1:5432"
trap 'kill $sandbox $service $onesignal 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build -q --release -p gymchat
gymchat="$PWD/target/release/gymchat"

"$gymchat" sandbox generate --out "$work/gym.json" --users 1000 --rooms 5000 --members 5 > /dev/null
psql -q "$pg/test" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
export DATABASE_URL="$pg/$db" STREAM_KEY=bench STREAM_SECRET=bench-secret
"$gymchat" db load-fixture "$work/gym.json" > /dev/null

# The member with the most rooms, and a token of the identity provider for them (HS256).
read -r gym user subject < <(python3 - "$work/gym.json" <<'PY'
import json, sys, collections
db = json.load(open(sys.argv[1]))["db"]
count = collections.Counter(m["user_id"] for m in db["chat_members"] if m.get("room_id"))
user, _ = count.most_common(1)[0]
gym = next(m["gym_id"] for m in db["user_gyms"] if m["user_id"] == user)
subject = next(u["auth0_id"] for u in db["user"] if u["id"] == user)
print(gym, user, subject)
PY
)
token="$(python3 - "$subject" <<'PY'
import base64, hmac, hashlib, json, sys, time
b = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=")
head = b({"alg": "HS256", "typ": "JWT"}) + b"." + b({"sub": sys.argv[1], "exp": int(time.time()) + 3600, "scope": "resource:read"})
sig = base64.urlsafe_b64encode(hmac.new(b"bench-jwt-secret", head, hashlib.sha256).digest()).rstrip(b"=")
print((head + b"." + sig).decode())
PY
)"

"$gymchat" sandbox --listen 127.0.0.1:0 --key bench --secret bench-secret \
  --fixture "$work/gym.json" > "$work/sandbox.out" &
sandbox=$!
for _ in $(seq 1 600); do grep -q url "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
export STREAM_URL="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/sandbox.out")"
# The fake OneSignal: counts the pushes it receives and remembers when the last one arrived.
cat > "$work/onesignal.py" <<'PY'
import json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
state = {"count": 0, "last_at": 0.0}
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the service reuses its connections
    def log_message(self, *args):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            state["count"] += 1
            state["last_at"] = time.time()
        answer = b'{"id":"n","recipients":1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def do_GET(self):
        with lock:
            body = json.dumps(state).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops the connections of a burst of pushes
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
server.serve_forever()
PY
python3 "$work/onesignal.py" > "$work/onesignal.out" &
onesignal=$!
for _ in $(seq 1 100); do grep -q url "$work/onesignal.out" 2>/dev/null && break; sleep 0.1; done
onesignal_url="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/onesignal.out")"

"$gymchat" serve --listen 127.0.0.1:0 --jwt-hs256-secret bench-jwt-secret \
  --onesignal-app-id bench-app --onesignal-api-key bench-key --onesignal-url "$onesignal_url" > "$work/service.out" &
service=$!
for _ in $(seq 1 600); do grep -q url "$work/service.out" 2>/dev/null && break; sleep 0.1; done
url="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$work/service.out")"
rooms="$(curl -sf -H "Authorization: Bearer $token" -H "X-Gym-ID: $gym" "$url/api/v1/chat/my-rooms" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
curl -sf -H "Authorization: Bearer $token" -H "X-Gym-ID: $gym" "$url/api/v1/chat/token" > /dev/null
echo "gym $gym, user $user: $rooms rooms; wrk -c $connections -d ${seconds}s"

commits() { psql -tA "$pg/test" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'"; }
stream_calls() { curl -sf "$STREAM_URL/_sandbox/stats" | python3 -c 'import json,sys; print(sum(o["calls"] for o in json.load(sys.stdin)["operations"].values()))'; }

for path in token my-rooms; do
  curl -sf -X POST "$STREAM_URL/_sandbox/stats/reset" > /dev/null
  before="$(commits)"
  wrk -t 2 -c "$connections" -d "${seconds}s" --latency \
    -H "Authorization: Bearer $token" -H "X-Gym-ID: $gym" "$url/api/v1/chat/$path" > "$work/wrk.txt"
  sleep 12  # a backend reports its counts to pg_stat_database when it has been idle for 10 s at most
  after="$(commits)"
  calls="$(stream_calls)"
  python3 - "$path" "$work/wrk.txt" "$before" "$after" "$calls" <<'PY'
import re, sys
path, text, before, after, calls = sys.argv[1], open(sys.argv[2]).read(), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{path:9} {rps:8.0f} req/s  p50 {pct['50']:>8}  p90 {pct['90']:>8}  p99 {pct['99']:>8}  "
      f"db statements/request {(after - before) / requests:.2f}  Stream calls/request {calls / requests:.2f}  "
      f"non-2xx {errors.group(1) if errors else 0}")
PY
done

# Stream's new-message webhook: one room of the member, another member of it offline with unread
# messages; every delivery has its own X-Webhook-Id (a wrk Lua script numbers them per thread).
python3 - "$work/gym.json" "$user" "$gym" "$work/webhook.lua" <<'PY'
import hashlib, hmac, json, sys
db = json.load(open(sys.argv[1]))["db"]
user, gym = int(sys.argv[2]), int(sys.argv[3])
rooms = {r["id"]: r for r in db["chat_rooms"]}
members = {}
for m in db["chat_members"]:
    if m.get("room_id"):
        members.setdefault(m["room_id"], []).append(m["user_id"])
with_auth0 = {u["id"] for u in db["user"] if u.get("auth0_id")}
room, other = next((r, o) for r, ms in members.items() if user in ms and rooms[r]["gym_id"] == gym
                   for o in ms if o != user and o in with_auth0)
channel = rooms[room]["stream_channel_id"]
event = {"type": "message.new", "cid": f"messaging:{channel}", "channel_type": "messaging", "channel_id": channel,
         "message": {"id": "bench", "text": "See you at six?", "type": "regular", "user": {"id": f"gym_{gym}_user_{user}"}},
         "members": [{"user_id": f"gym_{gym}_user_{other}", "user": {"channel_unread_count": 1, "online": False}}]}
body = json.dumps(event, separators=(",", ":"))
sig = hmac.new(b"bench-secret", body.encode(), hashlib.sha256).hexdigest()
open(sys.argv[4], "w").write(f"""
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local counter = 0
function request()
  counter = counter + 1
  -- Headers given to wrk.format replace wrk.headers: all of them, each time.
  local headers = {{["Content-Type"] = "application/json", ["X-Signature"] = "{sig}",
                   ["X-Webhook-Id"] = "bench-" .. tid .. "-" .. counter}}
  return wrk.format("POST", "/api/v1/webhooks/stream/new-message", headers, {json.dumps(body)})
end
""")
PY
sent_before="$(curl -sf "$onesignal_url/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')"
wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s "$work/webhook.lua" "$url" > "$work/wrk.txt"
ended="$(python3 -c 'import time; print(time.time())')"
accepted="$(python3 -c 'import re,sys; t=open(sys.argv[1]).read(); n=int(re.search(r"(\d+) requests in", t).group(1)); e=re.search(r"Non-2xx or 3xx responses: (\d+)", t); print(n - int(e.group(1) if e else 0))' "$work/wrk.txt")"
for _ in $(seq 1 1200); do
  sent="$(curl -sf "$onesignal_url/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')"
  [ $((sent - sent_before)) -ge "$accepted" ] && break
  sleep 0.1
done
python3 - "$work/wrk.txt" "$accepted" "$sent_before" "$onesignal_url" "$ended" "$seconds" <<'PY'
import json, re, sys, urllib.request
text, accepted, before, url, ended, seconds = open(sys.argv[1]).read(), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
state = json.load(urllib.request.urlopen(url + "/"))
sent = state["count"] - before
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
drain = max(0.0, state["last_at"] - ended)
print(f"webhook   {rps:8.0f} req/s  p50 {pct['50']:>8}  p90 {pct['90']:>8}  p99 {pct['99']:>8}  "
      f"accepted {accepted}  pushes sent {sent} ({sent / (seconds + drain):.0f}/s)  outbox drained {drain:.1f} s after the load")
PY
psql -q "$pg/test" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
