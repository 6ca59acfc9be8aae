#!/usr/bin/env bash
# SCIM load (issue 9), against `sso-gateway serve --demo` on SQLite and/or PostgreSQL:
#   1. users created per second over HTTP (POST /scim/v2/demo/Users, unique userNames,
#      --connections python client threads on keep-alive connections, until --users
#      users exist);
#   2. `userName eq` lookup p50/p99 with that many users (wrk, random existing users);
#   3. a full import: paging through every user with count=100 (one client, keep-alive),
#      in seconds.
#
# Run by hand, never in CI. Needs: a release build (built here if missing), wrk,
# python3, psql/createdb for --db postgres.
#
#   scripts/load-scim.sh                         # both databases, 100,000 users
#   scripts/load-scim.sh --db sqlite --users 20000
set -euo pipefail

cd "$(dirname "$0")/.."
DBS="sqlite postgres"
USERS=100000
CONNECTIONS=16
THREADS=2
LOOKUP_SECONDS=20
IMPORT_SECONDS=1800
PORT=18481
PG_URL_BASE="postgres://postgres@127.0.0.1:5432"

while [ $# -gt 0 ]; do
    case "$1" in
        --db) case "$2" in both) DBS="sqlite postgres" ;; sqlite|postgres) DBS="$2" ;; *) exit 2 ;; esac; shift 2 ;;
        --users) USERS="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --lookup-seconds) LOOKUP_SECONDS="$2"; shift 2 ;;
        --import-seconds) IMPORT_SECONDS="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
            echo "Options: --db sqlite|postgres|both  --users N  --connections C  --lookup-seconds S  --import-seconds S (stop the import early and report how far it got; default 1800)  --port P"; exit 0 ;;
        *) exit 2 ;;
    esac
done
if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package) ..."
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

BIN=target/release/sso-gateway
[ -x "$BIN" ] || cargo build --release --bin sso-gateway
WORK=target/load-scim
mkdir -p "$WORK"
PUBLIC="http://127.0.0.1:$PORT"
BASE="$PUBLIC/scim/v2/demo/Users"

cat >"$WORK/create.py" <<'EOF'
# POST users with unique userNames from C client threads (one keep-alive connection
# each) until N exist; print the rate and the latency percentiles.
import http.client, json, sys, threading, time
host, port, token, n, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
lat, failed, lock = [], [0], threading.Lock()
def worker(k):
    conn = http.client.HTTPConnection(host, port)
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"}
    mine = []
    for i in range(k, n, conc):
        name = "load.user%06d@example.com" % i
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                           "name": {"givenName": "Load", "familyName": "User%d" % i},
                           "emails": [{"primary": True, "value": name, "type": "work"}],
                           "displayName": "Load User", "active": True})
        t = time.perf_counter()
        conn.request("POST", "/scim/v2/demo/Users", body=body, headers=h)
        r = conn.getresponse(); r.read()
        mine.append(time.perf_counter() - t)
        if r.status != 201:
            with lock: failed[0] += 1
    with lock: lat.extend(mine)
t0 = time.time()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"RESULT created={len(lat) - failed[0]} failed={failed[0]} seconds={dt:.1f} created_per_s={(len(lat) - failed[0]) / dt:.0f} p50_ms={pct(0.5):.2f} p99_ms={pct(0.99):.2f}")
EOF

cat >"$WORK/lookup.lua" <<'EOF'
-- GET ?filter=userName eq "<random existing user>".
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread)
end
function init(args)
  token = args[1]; users = tonumber(args[2]); found = 0; missing = 0
  math.randomseed(os.time() + tid * 7919)
  wrk.headers["Authorization"] = "Bearer " .. token
end
function request()
  local i = math.random(0, users - 1)
  return wrk.format("GET", string.format(
    "/scim/v2/demo/Users?filter=userName%%20eq%%20%%22load.user%06d%%40example.com%%22", i))
end
function response(status, headers, body)
  if status == 200 and string.find(body, '"totalResults":1', 1, true) then found = found + 1 else missing = missing + 1 end
end
function done(summary, latency)
  local f, m = 0, 0
  for _, t in ipairs(threads) do f = f + t:get("found"); m = m + t:get("missing") end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT lookups=%d not_found_or_error=%d lookups_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f\n",
    f, m, f / secs, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
EOF

cat >"$WORK/import.py" <<'EOF'
# Page through every user with count=100 over one keep-alive connection, as an
# importer would; print the time taken.
import http.client, json, sys, time
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
max_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
conn = http.client.HTTPConnection(host, port)
h = {"Authorization": "Bearer " + token}
start, seen, pages, total = 1, 0, 0, None
t0 = time.time()
while True:
    conn.request("GET", f"/scim/v2/demo/Users?startIndex={start}&count=100", headers=h)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"page at {start}: HTTP {r.status} {body[:200]!r}")
    doc = json.loads(body)
    total = doc["totalResults"]
    n = len(doc.get("Resources", []))
    seen += n; pages += 1; start += n
    if n == 0 or start > total:
        break
    if time.time() - t0 > max_seconds:
        t = time.perf_counter()
        conn.request("GET", f"/scim/v2/demo/Users?startIndex={max(1, total - 99)}&count=100", headers=h)
        r = conn.getresponse(); r.read()
        last = time.perf_counter() - t
        dt = time.time() - t0
        print(f"RESULT import_STOPPED_after_s={dt:.1f} users={seen} of {total} pages={pages} "
              f"users_per_s={seen / dt:.0f} last_page_ms={last * 1000:.0f}")
        sys.exit(0)
dt = time.time() - t0
print(f"RESULT import_users={seen} total={total} pages={pages} seconds={dt:.1f} users_per_s={seen / dt:.0f}")
EOF

# The per-address SCIM limit (web::edge, 6000/min by default) out of the way too: every
# client here is 127.0.0.1.
cat >"$WORK/load.toml" <<'EOF2'
[rate_limits.scim]
per_minute = 600000000
burst = 10000000
EOF2

run_db() {
    local db="$1" url
    case "$db" in
        sqlite) rm -f "$WORK"/scim.db*; url="sqlite://$WORK/scim.db"; unset SSO_GATEWAY_MASTER_KEY || true ;;
        postgres)
            dropdb -h 127.0.0.1 -U postgres --if-exists perf_scim >/dev/null 2>&1 || true
            createdb -h 127.0.0.1 -U postgres perf_scim
            url="$PG_URL_BASE/perf_scim"
            SSO_GATEWAY_MASTER_KEY=$(openssl rand -hex 32); export SSO_GATEWAY_MASTER_KEY ;;
    esac
    "$BIN" serve --demo --config "$WORK/load.toml" --listen "127.0.0.1:$PORT" --public-url "$PUBLIC" \
        --database "$url" --scim-rate 1000000 >"$WORK/serve-$db.log" 2>&1 &
    local server=$!
    for _ in $(seq 1 100); do curl -fsS -o /dev/null "$PUBLIC/saml/demo/metadata" 2>/dev/null && break; sleep 0.2; done
    local token
    token=$("$BIN" admin --database "$url" --public-url "$PUBLIC" scim-token create --tenant demo --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    echo "== $db: creating $USERS users"
    python3 "$WORK/create.py" 127.0.0.1 "$PORT" "$token" "$USERS" "$CONNECTIONS"
    echo "== $db: userName eq lookups for ${LOOKUP_SECONDS}s"
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "${LOOKUP_SECONDS}s" --timeout 10s --latency -s "$WORK/lookup.lua" "$BASE" \
        -- "$token" "$USERS" | grep RESULT || true
    echo "== $db: full import, count=100"
    python3 "$WORK/import.py" 127.0.0.1 "$PORT" "$token" "$IMPORT_SECONDS"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}

for db in $DBS; do run_db "$db"; done
