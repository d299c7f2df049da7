# Shared helpers of the benchmark scripts: sourced, not run.
# Each script starts the release binary on a fresh database, loads it from this machine with wrk,
# and prints one result line per measurement.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${USER_SERVICE_BIN:-$ROOT/target/release/user-service}"
PG_ADMIN_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
RESULTS="${RESULTS:-$BENCH_DIR/results}"
DURATION="${DURATION:-10s}"
mkdir -p "$RESULTS"

ensure_tools() {
  if ! command -v wrk >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
  fi
  command -v curl >/dev/null || (apt-get install -y -qq curl >/dev/null)
  if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --bin user-service)
  fi
}

# fresh_db sqlite|postgres -> prints a database URL
fresh_db() {
  case "$1" in
    sqlite) local d; d=$(mktemp -d); echo "sqlite://$d/bench.db" ;;
    postgres)
      local name="us_bench_$$_$RANDOM"
      psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
      echo "${PG_ADMIN_URL%/*}/$name" ;;
  esac
}

drop_db() {
  case "$1" in
    postgres://*) psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS ${1##*/} WITH (FORCE)" >/dev/null ;;
  esac
}

# start_server DATABASE_URL [VAR=value ...]: sets SERVER_PID, BASE and GRPC (host:port of gRPC).
# The server runs in a session of its own, as a daemon does: with the kernel's autogroup a session
# is a scheduling group, and one shared with wrk would have the load generator and the server
# competing as one against PostgreSQL (docs/BENCHMARKS.md, "hashing in a scheduling group of its
# own"). Run the scripts as `bash bench/...`: under job control setsid would fork and SERVER_PID
# would name the wrong process.
start_server() {
  local url="$1"; shift
  local log; log=$(mktemp)
  env APP_ENV=development USER_SERVICE_CONFIG_DIR="$ROOT/config" DATABASE_URL="$url" \
    USER_SERVICE__SERVER__PORT=0 USER_SERVICE__GRPC__PORT=0 \
    USER_SERVICE__RATE_LIMIT__ENABLED=false USER_SERVICE__LOG__LEVEL=warn \
    JWT_SECRET_KEY=benchmark-secret-long-enough "$@" setsid "$BIN" serve >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    BASE=$(sed -n 's/^user-service listening on //p' "$log" | head -1)
    [ -n "$BASE" ] && break
    sleep 0.1
  done
  [ -n "$BASE" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }
  # Printed before the HTTP line.
  GRPC=$(sed -n 's/^user-service gRPC listening on //p' "$log" | head -1)
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# cpu_ticks PID...: user+system clock ticks of the processes and their threads so far (from
# /proc/PID/stat fields 14 and 15; children counted only as listed, so pass every worker).
cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# server_pids: the benchmarked server's processes (one for us, the master and workers for a peer).
server_pids() { echo "$SERVER_PID" $(pgrep -P "$SERVER_PID" 2>/dev/null); }

# measure LABEL WRK_ARGS...: runs wrk against the server and prints its summary with the server's
# CPU time per answered request, the figure that does not depend on how the cores are shared.
measure() {
  local label="$1"; shift
  local pids t0 t1 out
  pids=$(server_pids)
  # shellcheck disable=SC2086
  t0=$(cpu_ticks $pids)
  out=$(wrk "$@")
  # shellcheck disable=SC2086
  t1=$(cpu_ticks $pids)
  wrk_summary "$label" "$out" $((t1 - t0))
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# json_field NAME: the string value of a top-level field of the JSON on stdin, newline-terminated.
json_field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

# wrk_summary LABEL WRK_OUTPUT [CPU_TICKS]: one line with requests/s, p50, p99, errors and, given the
# server's CPU ticks over the run, CPU microseconds per request.
wrk_summary() {
  local label="$1" out="$2" ticks="${3:-}"
  local rps p50 p99 non2xx requests cpu=""
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  if [ -n "$ticks" ] && [ "${requests:-0}" -gt 0 ]; then
    cpu=$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$requests" 'BEGIN {printf "cpu %.0f us/req", t / hz * 1e6 / n}')
  fi
  printf '%-52s %10s req/s   p50 %-9s p99 %-9s non-2xx %-6s %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}" "$cpu"
}

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%F)"
}
