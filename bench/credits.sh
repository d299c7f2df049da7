#!/usr/bin/env bash
# Load benchmark of the ledger and usage hot paths (issue 3), on SQLite and PostgreSQL:
#   1. consume on one hot account at $CONNECTIONS connections; the final balance is checked exact
#      against the ledger afterwards;
#   2. usage ingest, one record per request;
#   3. usage ingest, batches of $BATCH_SIZE records;
#   4. stats over $STATS_RECORDS records of one user (median and max of $STATS_RUNS requests).
#
# Knobs (environment): USER_SERVICE_BIN (default target/release/user-service), BACKENDS ("sqlite
# postgres"), PG_URL (server to create scratch databases on), DURATION (wrk seconds per run, 10),
# CONNECTIONS (64), THREADS (2), BATCH_SIZE (1000), STATS_RECORDS (1000000), STATS_RUNS (20),
# RESULTS (bench/results). A debug binary and small counts make a quick functional check:
#   USER_SERVICE_BIN=target/debug/user-service DURATION=2 STATS_RECORDS=5000 bash bench/credits.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${USER_SERVICE_BIN:-$ROOT/target/release/user-service}"
BACKENDS="${BACKENDS:-sqlite postgres}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
BATCH_SIZE="${BATCH_SIZE:-1000}"
STATS_RECORDS="${STATS_RECORDS:-1000000}"
STATS_RUNS="${STATS_RUNS:-20}"
RESULTS="${RESULTS:-$ROOT/bench/results}"
INITIAL_CREDITS=1000000000

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
  echo "installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
for tool in curl jq; do
  need "$tool" || { apt-get update -qq && apt-get install -y -qq "$tool" >/dev/null; }
done
[ -x "$BIN" ] || { echo "no binary at $BIN: build it (cargo build --release) or set USER_SERVICE_BIN" >&2; exit 1; }

mkdir -p "$RESULTS"
WORK="$(mktemp -d)"
SERVER_PID=""
PG_DB=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$PG_DB" ] && psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts the server on a scratch database of backend $1 and sets BASE.
start_server() {
  local url
  if [ "$1" = sqlite ]; then
    url="sqlite://$WORK/bench-$$.db"
  else
    PG_DB="us_bench_$$_$RANDOM"
    psql -q "$PG_URL" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    url="${PG_URL%/*}/$PG_DB"
  fi
  APP_ENV=test USER_SERVICE_CONFIG_DIR="$ROOT/config" DATABASE_URL="$url" \
    USER_SERVICE__SERVER__PORT=0 USER_SERVICE__LOG__LEVEL=error USER_SERVICE__RATE_LIMIT__ENABLED=false \
    USER_SERVICE__DATABASE__MAX_CONNECTIONS="${MAX_CONNECTIONS:-32}" \
    JWT_SECRET_KEY=bench-secret-that-is-long-enough setsid "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    BASE="$(sed -n 's/^user-service listening on //p' "$WORK/server.out" | head -1)"
    [ -n "$BASE" ] && return 0
    sleep 0.1
  done
  echo "the server did not start:" >&2; cat "$WORK/server.err" >&2; exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  if [ -n "$PG_DB" ]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null
    PG_DB=""
  fi
}

post() { curl -sf -X POST "$BASE$1" -H 'Content-Type: application/json' -H "X-API-Key: $KEY" -d "$2"; }
get() { curl -sf "$BASE$1" -H "X-API-Key: $KEY"; }

# A wrk script that POSTs $BODY_FILE with the service key to $TARGET.
cat >"$WORK/post.lua" <<'LUA'
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.path = os.getenv("TARGET")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("KEY")
LUA

# CPU clock ticks (user + system) of the server process so far.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# Runs wrk against $1 with body file $2; prints requests/s, p99, the non-2xx count and the server's
# CPU time per answered request (steadier than requests/s on shared cores).
load() {
  local out t0 t1
  t0="$(server_ticks)"
  out="$(TARGET="$1" BODY_FILE="$2" KEY="$KEY" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$BASE")"
  t1="$(server_ticks)"
  echo "$out" >>"$REPORT.raw"
  local rps non2xx p99 requests cpu
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  non2xx="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
  requests="$(echo "$out" | awk '/requests in/ {print $1}')"
  cpu="$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="${requests:-0}" 'BEGIN {if (n > 0) printf "%.0f", t / hz * 1e6 / n; else print "?"}')"
  echo "${rps:-0} req/s, p99 ${p99:-?}, non-2xx ${non2xx:-0}, cpu ${cpu} us/req"
}

user() {
  curl -sf -X POST "$BASE/auth/register" -H 'Content-Type: application/json' \
    -d "{\"namespace\":\"bench\",\"username\":\"$1\",\"password\":\"benchpassword1\"}" | jq -r .user.id
}

for backend in $BACKENDS; do
  REPORT="$RESULTS/credits-$backend.txt"
  : >"$REPORT.raw"
  start_server "$backend"
  KEY="$(curl -sf -X POST "$BASE/userspaces" -H 'Content-Type: application/json' -d '{"namespace":"bench"}' | jq -r .data.api_key)"
  HOT="$(user hot)"
  HEAVY="$(user heavy)"
  {
    echo "# credits benchmark: $backend, $(date -u +%FT%TZ), $(nproc) cores, binary $BIN"
    echo "# wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"

    # 1. consume on one hot account.
    post "/api/v1/users/$HOT/credits/recharge" "{\"amount\": $INITIAL_CREDITS}" >/dev/null
    echo '{"amount": 1, "description": "bench"}' >"$WORK/consume.json"
    echo "consume (one hot account): $(load "/api/v1/users/$HOT/credits/consume" "$WORK/consume.json")"
    # wrk stops counting at its deadline, but requests it sent may still be committing: wait until
    # the ledger stands still, then compare.
    consumed=-1
    for _ in $(seq 1 100); do
      now="$(get "/api/v1/users/$HOT/credits/transactions?transaction_type=consume&page_size=1" | jq .data.total)"
      [ "$now" = "$consumed" ] && break
      consumed="$now"
      sleep 0.5
    done
    balance="$(get "/api/v1/users/$HOT/credits/balance" | jq .data)"
    expected=$((INITIAL_CREDITS - consumed))
    if [ "$balance" = "$expected" ]; then
      echo "consume balance check: OK ($consumed consumes, balance $balance = $INITIAL_CREDITS - $consumed)"
    else
      echo "consume balance check: FAILED (balance $balance, expected $expected after $consumed consumes)"
      BALANCE_FAILED=1
    fi

    # 2. usage ingest, one record per request.
    echo '{"event_type": "ai_chat", "credits_charged": 0.15, "cost_usd": 0.001, "tokens_used": 15, "model_name": "gpt-4"}' >"$WORK/usage.json"
    echo "usage ingest (single): $(load "/api/v1/users/$HOT/usage" "$WORK/usage.json")"

    # 3. usage ingest, batches.
    jq -c --argjson n "$BATCH_SIZE" '{records: [range($n) as $i | .]}' "$WORK/usage.json" >"$WORK/batch.json"
    line="$(load "/api/v1/users/$HOT/usage/batch" "$WORK/batch.json")"
    rps="${line%% *}"
    echo "usage ingest (batches of $BATCH_SIZE): $line = $(awk -v r="$rps" -v n="$BATCH_SIZE" 'BEGIN {printf "%d", r * n}') records/s"

    # 4. stats over many records of one user.
    batches=$(( (STATS_RECORDS + BATCH_SIZE - 1) / BATCH_SIZE ))
    # 503 (a busy SQLite write lock) is retried; the total below is what was stored.
    seq 1 "$batches" | xargs -P 4 -I{} curl -sf --retry 10 --retry-delay 1 -o /dev/null -X POST "$BASE/api/v1/users/$HEAVY/usage/batch" \
      -H 'Content-Type: application/json' -H "X-API-Key: $KEY" --data-binary "@$WORK/batch.json"
    total="$(get "/api/v1/users/$HEAVY/usage/stats" | jq .data.total_records)"
    times="$(for _ in $(seq 1 "$STATS_RUNS"); do
      curl -sf -o /dev/null -w '%{time_total}\n' "$BASE/api/v1/users/$HEAVY/usage/stats" -H "X-API-Key: $KEY"
    done | sort -n)"
    median="$(echo "$times" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}')"
    max="$(echo "$times" | tail -1 | awk '{printf "%.1f", $1 * 1000}')"
    echo "stats over $total records of one user: median ${median} ms, max ${max} ms ($STATS_RUNS requests)"
  } | tee "$REPORT"
  stop_server
done
[ -z "${BALANCE_FAILED:-}" ]
