#!/usr/bin/env bash
# Avatar upload benchmark: a ~500 KB JPEG posted by 16 connections for DURATION; prints requests/s,
# p99 latency and the service's peak memory (VmHWM of /proc/PID/status) during the run, on each
# database of BACKENDS. Target: peak below 200 MB.
#
#   bash bench/avatars.sh                    # the release binary, 10 s per backend
#   USER_SERVICE_BIN=target/debug/user-service DURATION=3s BACKENDS=sqlite bash bench/avatars.sh
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${USER_SERVICE_BIN:-$ROOT/target/release/user-service}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
PG_ADMIN_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
RESULTS="${RESULTS:-$BENCH_DIR/results}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
BACKENDS="${BACKENDS:-sqlite postgres}"
BOUNDARY="bench-avatar-boundary-5d1f0c"
mkdir -p "$RESULTS"

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --bin user-service)
fi

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The picture and its multipart body, made once.
(cd "$ROOT" && cargo run -q -p user-service-e2e --example bench_jpeg -- "$WORK/avatar.jpg" 500000) >/dev/null
{
  printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="avatar.jpg"\r\nContent-Type: image/jpeg\r\n\r\n' "$BOUNDARY"
  cat "$WORK/avatar.jpg"
  printf -- '\r\n--%s--\r\n' "$BOUNDARY"
} >"$WORK/body"
JPEG_BYTES=$(stat -c %s "$WORK/avatar.jpg")

fresh_db() {
  case "$1" in
    sqlite) echo "sqlite://$WORK/bench-$RANDOM.db" ;;
    postgres)
      local name="us_bench_avatars_$$_$RANDOM"
      psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
      echo "${PG_ADMIN_URL%/*}/$name" ;;
  esac
}

drop_db() {
  case "$1" in
    postgres://*) psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS ${1##*/} WITH (FORCE)" >/dev/null ;;
  esac
}

peak_mb() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

for backend in $BACKENDS; do
  url=$(fresh_db "$backend")
  log="$WORK/server.log"
  env APP_ENV=development USER_SERVICE_CONFIG_DIR="$ROOT/config" DATABASE_URL="$url" \
    USER_SERVICE__SERVER__PORT=0 USER_SERVICE__RATE_LIMIT__ENABLED=false USER_SERVICE__LOG__LEVEL=warn \
    USER_SERVICE__AUTH__BCRYPT_COST=4 USER_SERVICE__STORAGE__LOCAL_ROOT="$WORK/uploads-$backend" \
    JWT_SECRET_KEY=benchmark-secret-long-enough setsid "$BIN" serve >"$log" 2>&1 &
  SERVER_PID=$!
  BASE=""
  for _ in $(seq 1 300); do
    BASE=$(sed -n 's/^user-service listening on //p' "$log" | head -1)
    [ -n "$BASE" ] && break
    sleep 0.1
  done
  [ -n "$BASE" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

  curl -sf -X POST "$BASE/userspaces" -H 'content-type: application/json' -d '{"namespace":"bench"}' >/dev/null
  TOKEN=$(curl -sf -X POST "$BASE/auth/register" -H 'content-type: application/json' \
    -d '{"namespace":"bench","username":"uploader","password":"benchmark-password"}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  # One upload first, so a broken setup fails here and not as a page of non-200s.
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/users/me/avatar" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: multipart/form-data; boundary=$BOUNDARY" \
    --data-binary @"$WORK/body")
  [ "$status" = 200 ] || { echo "a single upload answered $status" >&2; exit 1; }

  out=$(AVATAR_BODY="$WORK/body" BOUNDARY="$BOUNDARY" TOKEN="$TOKEN" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$BENCH_DIR/lua/upload_avatar.lua" "$BASE")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  non200=$(sed -n 's/^non_200=//p' <<<"$out")
  peak=$(peak_mb "$SERVER_PID")
  line="avatars $backend: upload ${JPEG_BYTES}-byte JPEG, ${CONNECTIONS} connections, ${DURATION}: ${rps} req/s, p99 ${p99}, non-200 ${non200:-?}, peak memory ${peak} MB (target < 200 MB)"
  echo "$line"
  echo "$line" >>"$RESULTS/avatars.txt"

  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  drop_db "$url"
done
