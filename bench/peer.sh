#!/usr/bin/env bash
# The peer, side by side: fastapi-users 15 (bench/peers/fastapi_users/app.py, its documented
# SQLAlchemy + JWT setup) under uvicorn with 2 workers and bcrypt cost 10, on SQLite and PostgreSQL,
# measured exactly as bench/spine.sh measures us (wrk, requests/s, p50/p99, CPU per request of the
# master and its workers). Installs itself into a virtualenv outside the repository.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_tools
VENV="${PEER_VENV:-$HOME/.cache/user-service/bench-peer-venv}"
if [ ! -x "$VENV/bin/uvicorn" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'fastapi-users[sqlalchemy]==15.*' 'pwdlib[bcrypt]' uvicorn aiosqlite asyncpg
fi
THREADS=2
OUT="$RESULTS/peer.txt"
: >"$OUT"
machine_line | tee -a "$OUT"
echo "peer: fastapi-users $("$VENV/bin/python" -c 'import fastapi_users; print(fastapi_users.__version__)'), uvicorn --workers 2, bcrypt cost 10; wrk $THREADS threads, $DURATION per run" | tee -a "$OUT"

for backend in ${BACKENDS:-sqlite postgres}; do
  case "$backend" in
    sqlite) dir=$(mktemp -d); db="sqlite+aiosqlite:///$dir/peer.db"; pgurl="" ;;
    postgres) pgurl=$(fresh_db postgres); db="postgresql+asyncpg://${pgurl#postgres://}" ;;
  esac
  port=$((20000 + RANDOM % 20000))
  (cd "$BENCH_DIR/peers/fastapi_users" && DATABASE_URL="$db" "$VENV/bin/python" app.py init)
  (cd "$BENCH_DIR/peers/fastapi_users" && exec setsid env DATABASE_URL="$db" BCRYPT_COST=10 \
    "$VENV/bin/uvicorn" app:app --workers 2 --port "$port" --log-level warning) &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$BASE/docs" >/dev/null 2>&1 && break; sleep 0.2; done
  echo "== peer $backend" | tee -a "$OUT"
  echo "idle RSS after start (master + workers): $(( $(for p in $(server_pids); do rss_kb "$p"; done | paste -sd+ | bc) / 1024 )) MiB" | tee -a "$OUT"

  curl -sf -X POST "$BASE/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"alice@example.com","password":"supersecret123"}' >/dev/null
  login=$(curl -sf -X POST "$BASE/auth/jwt/login" -d 'username=alice@example.com&password=supersecret123')
  token=$(json_field access_token <<<"$login")

  TOKEN="$token" measure "peer $backend GET /users/me c=64" -t$THREADS -c64 -d"$DURATION" --latency \
    -s "$BENCH_DIR/lua/get_bearer.lua" "$BASE/users/me" | tee -a "$OUT"
  BODY='username=alice@example.com&password=supersecret123' CONTENT_TYPE=application/x-www-form-urlencoded \
    measure "peer $backend POST /auth/jwt/login cost 10 c=16" -t$THREADS -c16 -d"$DURATION" --latency \
    -s "$BENCH_DIR/lua/post_json.lua" "$BASE/auth/jwt/login" | tee -a "$OUT"
  BODY='username=alice@example.com&password=supersecret123' CONTENT_TYPE=application/x-www-form-urlencoded \
    wrk -t1 -c16 -d"$DURATION" -s "$BENCH_DIR/lua/post_json.lua" "$BASE/auth/jwt/login" >/dev/null &
  storm=$!
  sleep 1
  out=$(TOKEN="$token" wrk -t1 -c8 -d5s --latency -s "$BENCH_DIR/lua/get_bearer.lua" "$BASE/users/me")
  wrk_summary "peer $backend GET /users/me c=8 during login storm c=16" "$out" | tee -a "$OUT"
  wait $storm || true

  pkill -P "$SERVER_PID" 2>/dev/null || true
  stop_server
  [ -n "$pgurl" ] && drop_db "$pgurl"
done
