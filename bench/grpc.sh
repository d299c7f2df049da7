#!/usr/bin/env bash
# GetUser over gRPC beside GET /api/v1/users/{id} over HTTP: the same user, the same service key, the
# same server process, on SQLite and PostgreSQL. Requests/s, latency, and CPU time per answered
# request of the server (utime+stime from /proc/PID/stat over the run) and of the load client.
# HTTP is driven by wrk, gRPC by bench/grpc-load (a small tonic client); both share the two cores
# with the server, so CPU per request is the figure to compare.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_tools
LOAD="${GRPC_LOAD_BIN:-$ROOT/target/release/user-service-grpc-load}"
[ -x "$LOAD" ] || (cd "$ROOT" && cargo build --release -p user-service-grpc-load)
THREADS=2
CONC="${CONCURRENCY:-64}"
OUT="$RESULTS/grpc.txt"
: >"$OUT"
machine_line | tee -a "$OUT"
echo "settings: $CONC requests in flight, $DURATION per run, server workers = cores (actix workers and gRPC threads), rate limits off; HTTP: wrk $THREADS threads, $CONC keep-alive connections; gRPC: $CONC calls over 2 HTTP/2 connections" | tee -a "$OUT"

# client_cpu OUTPUT REQUESTS: the load client's CPU microseconds per request, from /usr/bin/time.
client_cpu() {
  awk -v n="$2" '/^client_cpu/ {printf "client cpu %.0f us/req", ($2 + $3) * 1e6 / n}' <<<"$1"
}

for backend in ${BACKENDS:-sqlite postgres}; do
  url=$(fresh_db "$backend")
  start_server "$url"
  key=$(curl -sf -X POST "$BASE/userspaces" -H 'Content-Type: application/json' \
    -d '{"namespace":"bench"}' | json_field api_key)
  id=$(curl -sf -X POST "$BASE/api/v1/users" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
    -d '{"username":"alice","email":"alice@example.com","first_name":"Alice","last_name":"Liddell"}' | json_field id)
  echo "== $backend" | tee -a "$OUT"

  pids=$(server_pids)
  # shellcheck disable=SC2086
  t0=$(cpu_ticks $pids)
  out=$(KEY="$key" /usr/bin/time -f 'client_cpu %U %S' wrk -t$THREADS -c"$CONC" -d"$DURATION" --latency \
    -s "$BENCH_DIR/lua/get_api_key.lua" "$BASE/api/v1/users/$id" 2>&1)
  # shellcheck disable=SC2086
  t1=$(cpu_ticks $pids)
  line=$(wrk_summary "$backend HTTP GET /api/v1/users/{id}" "$out" $((t1 - t0)))
  echo "$line   $(client_cpu "$out" "$(awk '/requests in/ {print $1}' <<<"$out")")" | tee -a "$OUT"

  # shellcheck disable=SC2086
  t0=$(cpu_ticks $pids)
  out=$(/usr/bin/time -f 'client_cpu %U %S' "$LOAD" "$GRPC" "$id" "$key" "${DURATION%s}" "$CONC" 2 2>&1)
  # shellcheck disable=SC2086
  t1=$(cpu_ticks $pids)
  read -r requests ok errors rps p50 p99 < <(awk '/^requests/ {print $2, $4, $6, $10, $12, $14}' <<<"$out")
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$ok" 'BEGIN {printf "cpu %.0f us/req", t / hz * 1e6 / n}')
  printf '%-52s %10s req/s   p50 %-9s p99 %-9s errors  %-6s %s   %s\n' "$backend gRPC GetUser" "$rps" \
    "${p50}ms" "${p99}ms" "$errors" "$cpu" "$(client_cpu "$out" "$requests")" | tee -a "$OUT"

  stop_server
  drop_db "$url"
done
