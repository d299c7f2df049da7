#!/usr/bin/env bash
# The spine's hot paths on SQLite and PostgreSQL: GET /users/me, POST /auth/refresh, POST /auth/login
# at bcrypt cost 10, /users/me latency during a login storm, idle memory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_tools
THREADS=2
REFRESH_CHAINS="${REFRESH_CHAINS:-64}"
OUT="$RESULTS/spine.txt"
: >"$OUT"
machine_line | tee -a "$OUT"
echo "settings: wrk $THREADS threads, $DURATION per run, server workers = cores, bcrypt cost 10, rate limits off" | tee -a "$OUT"

for backend in ${BACKENDS:-sqlite postgres}; do
  url=$(fresh_db "$backend")
  start_server "$url" USER_SERVICE__AUTH__BCRYPT_COST=10
  sleep 1
  echo "== $backend" | tee -a "$OUT"
  echo "idle RSS after start: $(( $(rss_kb "$SERVER_PID") / 1024 )) MiB" | tee -a "$OUT"

  curl -sf -X POST "$BASE/userspaces" -H 'Content-Type: application/json' -d '{"namespace":"bench"}' >/dev/null
  reg=$(curl -sf -X POST "$BASE/auth/register" -H 'Content-Type: application/json' \
    -d '{"namespace":"bench","username":"alice","password":"supersecret123"}')
  token=$(json_field access_token <<<"$reg")

  TOKEN="$token" measure "$backend GET /users/me c=64" -t$THREADS -c64 -d"$DURATION" --latency \
    -s "$BENCH_DIR/lua/get_bearer.lua" "$BASE/users/me" | tee -a "$OUT"
  echo "RSS under /users/me load (VmHWM so far): $(( $(hwm_kb "$SERVER_PID") / 1024 )) MiB" | tee -a "$OUT"

  tokens=$(mktemp)
  for _ in $(seq 1 "$REFRESH_CHAINS"); do
    curl -sf -X POST "$BASE/auth/login" -H 'Content-Type: application/json' \
      -d '{"namespace":"bench","username":"alice","password":"supersecret123"}' | json_field refresh_token >>"$tokens"
  done
  TOKENS="$tokens" THREADS=$THREADS measure "$backend POST /auth/refresh (rotation) c=$REFRESH_CHAINS" \
    -t$THREADS -c"$REFRESH_CHAINS" -d"$DURATION" --latency -s "$BENCH_DIR/lua/refresh_chain.lua" "$BASE" | tee -a "$OUT"

  login='{"namespace":"bench","username":"alice","password":"supersecret123"}'
  BODY="$login" measure "$backend POST /auth/login cost 10 c=16" -t$THREADS -c16 -d"$DURATION" --latency \
    -s "$BENCH_DIR/lua/post_json.lua" "$BASE/auth/login" | tee -a "$OUT"

  # The storm outlasts the reads by a second at each end; its own line shows what the logins got.
  # STORMS repeats it (default once): a single storm's p99 says little on a shared machine.
  for _ in $(seq 1 "${STORMS:-1}"); do
    storm_out=$(mktemp)
    BODY="$login" wrk -t1 -c16 -d7s --latency -s "$BENCH_DIR/lua/post_json.lua" "$BASE/auth/login" >"$storm_out" &
    storm=$!
    sleep 1
    out=$(TOKEN="$token" wrk -t1 -c8 -d5s --latency -s "$BENCH_DIR/lua/get_bearer.lua" "$BASE/users/me")
    wrk_summary "$backend GET /users/me c=8 during login storm c=16" "$out" | tee -a "$OUT"
    wait $storm || true
    wrk_summary "$backend   the storm: POST /auth/login c=16, 7 s" "$(cat "$storm_out")" | tee -a "$OUT"
    rm -f "$storm_out"
  done

  echo "peak RSS (VmHWM): $(( $(hwm_kb "$SERVER_PID") / 1024 )) MiB" | tee -a "$OUT"
  stop_server
  drop_db "$url"
done
