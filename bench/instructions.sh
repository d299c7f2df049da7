#!/usr/bin/env bash
# Instructions per request of GET /users/me (TARGET=me, the default), of POST /auth/refresh
# (TARGET=refresh: real rotations, each request presenting the refresh token the previous one got)
# or of the admin list's first page of 20 users with its total (TARGET=list, with a service key),
# counted by callgrind: repeatable on a shared machine where CPU seconds are not (the same binary
# gives the same count within 0.1 %). The server runs under valgrind with one worker on a fresh
# database of BACKEND (sqlite|postgres); one client sends N and then 2N requests on a keep-alive
# connection, and the difference over N is the figure, so start-up does not count. Knobs:
# USER_SERVICE_BIN, BACKEND, TARGET, N (1000), RATE_LIMIT (off; `on` runs the in-process limiter,
# as the default configuration does, with limits too high to refuse). KEEP=DIR keeps the profiles
# for `callgrind_annotate --inclusive=yes DIR/cg.out`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_tools
command -v valgrind >/dev/null || (apt-get install -y -qq valgrind >/dev/null)
BACKEND="${BACKEND:-sqlite}"
N="${N:-1000}"
TARGET="${TARGET:-me}"
case "${RATE_LIMIT:-off}" in
  off) LIMITS=(USER_SERVICE__RATE_LIMIT__ENABLED=false) ;;
  on) LIMITS=(USER_SERVICE__RATE_LIMIT__ENABLED=true USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE=100000000
              USER_SERVICE__RATE_LIMIT__PER_USER_PER_HOUR=100000000) ;;
  *) echo "RATE_LIMIT is on or off" >&2; exit 2 ;;
esac
case "$TARGET" in
  me) LABEL="GET /users/me"; TOKEN_FIELD=access_token ;;
  refresh) LABEL="POST /auth/refresh"; TOKEN_FIELD=refresh_token ;;
  list) LABEL="GET /api/v1/users (page of 20)" ;;
  *) echo "TARGET is me, refresh or list" >&2; exit 2 ;;
esac

# total_instructions COUNT: the server's instructions for start-up, one user and COUNT requests.
total_instructions() {
  local url out log base token hp key
  url=$(fresh_db "$BACKEND")
  out="${KEEP:-$(mktemp -d)}"; mkdir -p "$out"; log="$out/log"
  env APP_ENV=development USER_SERVICE_CONFIG_DIR="$ROOT/config" DATABASE_URL="$url" \
    USER_SERVICE__SERVER__PORT=0 USER_SERVICE__GRPC__PORT=0 USER_SERVICE__SERVER__WORKERS=1 \
    "${LIMITS[@]}" USER_SERVICE__LOG__LEVEL=warn USER_SERVICE__AUTH__BCRYPT_COST=4 \
    JWT_SECRET_KEY=benchmark-secret-long-enough \
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$BIN" serve >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do
    base=$(sed -n 's/^user-service listening on //p' "$log" | head -1)
    [ -n "$base" ] && break
    sleep 0.2
  done
  key=$(curl -sf -X POST "$base/userspaces" -H 'Content-Type: application/json' -d '{"namespace":"bench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"])')
  if [ "$TARGET" = list ]; then
    # A full page of users with every text field the list renders.
    for i in $(seq 1 20); do
      curl -sf -X POST "$base/auth/register" -H 'Content-Type: application/json' \
        -d "{\"namespace\":\"bench\",\"username\":\"user$i\",\"password\":\"supersecret123\",\"email\":\"user$i@example.com\",\"full_name\":\"Jane Doe $i\"}" >/dev/null
    done
    token=$key
  else
    token=$(curl -sf -X POST "$base/auth/register" -H 'Content-Type: application/json' \
      -d '{"namespace":"bench","username":"alice","password":"supersecret123"}' | json_field "$TOKEN_FIELD")
  fi
  hp=${base#http://}
  python3 "$BENCH_DIR/keepalive_client.py" "${hp%:*}" "${hp##*:}" "$token" "$1" "$TARGET"
  kill -INT "$pid"; wait "$pid" || true
  drop_db "$url"
  # `totals:` only: callgrind also writes the same figure as `summary:`.
  grep -h '^totals' "$out"/cg.out* | awk '{s += $2} END {print s}'
}

one=$(total_instructions "$N")
two=$(total_instructions $((2 * N)))
echo "$BACKEND $LABEL (rate limit ${RATE_LIMIT:-off}): $(( (two - one) / N )) instructions per request ($BIN)"
