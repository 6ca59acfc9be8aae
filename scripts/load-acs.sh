#!/usr/bin/env bash
# HTTP ACS load (issue 9): logins per second, p50/p99 latency and resident memory over
# time, against `sso-gateway serve --demo` on SQLite and/or PostgreSQL.
#
# Run by hand, never in CI. Needs: a release build (built here if missing), wrk
# (installed here if missing), psql/createdb for --db postgres.
#
#   scripts/load-acs.sh                      # both databases, 30 s each
#   scripts/load-acs.sh --db sqlite --minutes 10 --count 300000
#
# Every response is minted beforehand with `sso-gateway mint-response --count N --base64`
# (unique IDs, signed by the demo IdP key certs/dev/idp.key, assertion-signed like Okta's
# default) into target/load-acs/. Each wrk thread posts its own slice of them, once each;
# when a slice is used up it starts over, and from then on the posts are replays (fully
# verified, then refused by the replay cache with 400): the script reports how many posts
# were logins (3xx) and how many were not. Size --count to rate x seconds to keep every
# post a login.
#
# RSS of the server is sampled every --sample seconds from /proc/PID/status and printed
# as a series at the end (and saved to target/load-acs/rss-DB.tsv).
set -euo pipefail

cd "$(dirname "$0")/.."
DBS="sqlite postgres"
MINUTES=0.5
COUNT=""
CONNECTIONS=16
THREADS=2
SAMPLE=5
PORT=18480
PG_URL_BASE="postgres://postgres@127.0.0.1:5432"
VALIDITY=""

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF
Options:
  --db sqlite|postgres|both   database(s) to run against (default both)
  --minutes M                 wrk duration per database (default $MINUTES)
  --count N                   responses minted beforehand (default 1500 x seconds, max 400000)
  --connections C             wrk connections (default $CONNECTIONS)
  --threads T                 wrk threads (default $THREADS)
  --sample S                  RSS sampling period in seconds (default $SAMPLE)
  --port P                    listen port (default $PORT)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --db) case "$2" in both) DBS="sqlite postgres" ;; sqlite|postgres) DBS="$2" ;; *) usage; exit 2 ;; esac; shift 2 ;;
        --minutes) MINUTES="$2"; shift 2 ;;
        --count) COUNT="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --sample) SAMPLE="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; exit 2 ;;
    esac
done

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package) ..."
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
SECONDS_RUN=$(python3 -c "print(max(1, int(float('$MINUTES') * 60)))")
[ -n "$COUNT" ] || COUNT=$(python3 -c "print(min(400000, 1500 * $SECONDS_RUN))")
# Valid long enough for minting plus the run (NotOnOrAfter = issue instant + validity).
VALIDITY=$((SECONDS_RUN + 3600))

BIN=target/release/sso-gateway
[ -x "$BIN" ] || cargo build --release --bin sso-gateway
WORK=target/load-acs
mkdir -p "$WORK"
PUBLIC="http://127.0.0.1:$PORT"

mint() {
    # Two minting processes (one per core), then URL-encode for the form body.
    local out="$WORK/responses.form" half=$(( (COUNT + 1) / 2 ))
    if [ -s "$out" ] && [ "$(wc -l <"$out")" -ge "$COUNT" ] && [ "$(cat "$WORK/responses.public" 2>/dev/null)" = "$PUBLIC" ] \
        && [ "$(cat "$WORK/responses.expiry" 2>/dev/null || echo 0)" -gt $(( $(date +%s) + SECONDS_RUN * 2 + 120 )) ]; then
        echo "reusing $COUNT minted responses in $out"
        return
    fi
    echo "minting $COUNT responses (2 processes) ..."
    local t0; t0=$(date +%s.%N)
    for i in 1 2; do
        "$BIN" mint-response --key certs/dev/idp.key --cert certs/dev/idp.crt \
            --issuer "$PUBLIC/demo/idp/metadata" --audience "$PUBLIC/saml/demo/metadata" \
            --acs-url "$PUBLIC/saml/demo/acs" --name-id alice@example.com \
            --attribute firstName=Alice --attribute lastName=Anderson \
            --attribute email=alice@example.com --attribute groups=Sales --attribute groups=Support \
            --layout assertion --validity "$VALIDITY" --count "$half" --base64 >"$WORK/part$i.b64" &
    done
    wait
    cat "$WORK/part1.b64" "$WORK/part2.b64" | head -n "$COUNT" \
        | sed -e 's/+/%2B/g' -e 's#/#%2F#g' -e 's/=/%3D/g' -e 's/^/SAMLResponse=/' >"$out"
    rm -f "$WORK/part1.b64" "$WORK/part2.b64"
    echo "$PUBLIC" >"$WORK/responses.public"
    echo $(( $(date +%s) + VALIDITY )) >"$WORK/responses.expiry"
    python3 -c "import time; print('minted in %.1f s' % (time.time() - $t0))"
    # Flush the (large) file now: its writeback would otherwise compete with the
    # server's fsyncs during the run.
    sync
}

cat >"$WORK/acs.lua" <<'EOF'
-- Each thread posts its own slice of the minted form bodies, in order.
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  nthreads = tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then bodies[#bodies + 1] = line end
    i = i + 1
  end
  idx = 0
  wrapped = 0
  ok3xx = 0
  other = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  idx = idx + 1
  if idx > #bodies then idx = 1; wrapped = wrapped + 1 end
  return wrk.format(nil, nil, nil, bodies[idx])
end
function response(status, headers, body)
  if status >= 300 and status < 400 then ok3xx = ok3xx + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local ok, bad, wraps = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok3xx"); bad = bad + t:get("other"); wraps = wraps + t:get("wrapped")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT logins=%d refused=%d wrapped_slices=%d seconds=%.1f logins_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    ok, bad, wraps, secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
EOF

# The per-address ACS limit (web::edge, 1,200/min by default) out of the way: every
# client here is 127.0.0.1, and the load would otherwise be answered 429.
cat >"$WORK/load.toml" <<'EOF2'
[rate_limits.acs]
per_minute = 600000000
burst = 10000000
EOF2

start_server() {
    local db="$1" url
    case "$db" in
        sqlite)
            rm -f "$WORK"/acs.db*
            url="sqlite://$WORK/acs.db"
            unset SSO_GATEWAY_MASTER_KEY || true
            ;;
        postgres)
            dropdb -h 127.0.0.1 -U postgres --if-exists perf_acs >/dev/null 2>&1 || true
            createdb -h 127.0.0.1 -U postgres perf_acs
            url="$PG_URL_BASE/perf_acs"
            SSO_GATEWAY_MASTER_KEY=$(openssl rand -hex 32)
            export SSO_GATEWAY_MASTER_KEY
            ;;
    esac
    "$BIN" serve --demo --config "$WORK/load.toml" --listen "127.0.0.1:$PORT" --public-url "$PUBLIC" \
        --database "$url" >"$WORK/serve-$db.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$PUBLIC/saml/demo/metadata" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "server did not start; see $WORK/serve-$db.log" >&2
    kill "$SERVER" 2>/dev/null || true
    exit 1
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

run_db() {
    local db="$1"
    start_server "$db"
    # One warm-up login, checked: a 3xx means the minted responses are accepted.
    local code
    code=$(head -n 1 "$WORK/responses.form" | curl -s -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @- "$PUBLIC/saml/demo/acs" || true)
    echo "== $db: warm-up login with the first response: HTTP $code"
    local tsv="$WORK/rss-$db.tsv"
    echo -e "t_s\trss_kb" >"$tsv"
    (
        t=0
        while kill -0 "$SERVER" 2>/dev/null; do
            echo -e "$t\t$(rss_kb "$SERVER")" >>"$tsv"
            sleep "$SAMPLE"; t=$((t + SAMPLE))
        done
    ) &
    local sampler=$!
    wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_RUN}s" --timeout 10s --latency \
        -s "$WORK/acs.lua" "$PUBLIC/saml/demo/acs" -- "$WORK/responses.form" "$THREADS" \
        | tee "$WORK/wrk-$db.txt" | grep -E "RESULT|Requests/sec|Non-2xx|Socket errors" || true
    sleep "$SAMPLE"
    kill "$sampler" 2>/dev/null || true
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    echo "RSS (kB) of the server every ${SAMPLE}s:"
    awk 'NR > 1 {printf "%s ", $2} END {print ""}' "$tsv"
    awk 'NR > 1 {if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2; last = $2} END {printf "RSS min %d kB, max %d kB, last %d kB\n", min, max, last}' "$tsv"
}

mint
for db in $DBS; do run_db "$db"; done
