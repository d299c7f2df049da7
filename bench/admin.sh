#!/usr/bin/env bash
# Benchmark of the admin API: search and list on a large namespace, and the rate limiter's cost.
#
# Seeds one namespace with PG_USERS users on PostgreSQL (default 1,000,000) and SQLITE_USERS on SQLite
# (default 100,000) straight in SQL, then measures with wrk:
#   - search p50/p99: a common prefix (`jo`), a rare word, a quoted phrase;
#   - list: page 1, and a page 10,000 rows deep (offset=10000);
#   - GET /users/me throughput with the rate limiter off and on (limits too high to refuse).
# Results: bench/results/admin-<backend>.md (and stdout).
#
# Environment (all optional):
#   USER_SERVICE_BIN   the binary (default target/release/user-service; build it with cargo build --release)
#   BACKENDS           "postgres sqlite" (default both)
#   PG_ADMIN_URL       a PostgreSQL server where a scratch database may be created
#                      (default postgres://postgres@127.0.0.1:5432/postgres)
#   PG_USERS, SQLITE_USERS   seeded users (defaults 1000000, 100000)
#   DURATION           wrk duration per measurement (default 10s)
#   CONNECTIONS        wrk connections (default 16); THREADS wrk threads (default 2)
#   PORT               where the service listens (default 18090)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${USER_SERVICE_BIN:-target/release/user-service}
BACKENDS=${BACKENDS:-postgres sqlite}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_USERS=${PG_USERS:-1000000}
SQLITE_USERS=${SQLITE_USERS:-100000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PORT=${PORT:-18090}
BASE="http://127.0.0.1:$PORT"
RESULTS="$ROOT/bench/results"
WORK=$(mktemp -d)
SERVER_PID=""

cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "${PG_DB:-}" ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "bench/admin.sh: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN not found or not executable (cargo build --release, or set USER_SERVICE_BIN)"
if ! command -v wrk >/dev/null; then
    echo "installing wrk..." >&2
    (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)) \
        || die "wrk is missing and could not be installed"
fi
command -v curl >/dev/null || die "curl is required"
mkdir -p "$RESULTS"

# The first names repeat (common prefixes like "jo"); one user in 100,000 has a rare last name.
FIRST="John Jane Joseph Josephine Jonas Maria Michael Anna Peter Laura Ahmed Mei Olga Carlos Fatima Liam"
LAST="Smith Doe Johnson Brown Garcia Miller Davis Wilson Taylor Moore Martin Lee Walker Hall Young King"
RARE=quetzalcoatl

seed_postgres() {
    local url=$1 n=$2
    psql "$url" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO users (id, namespace, username, username_fold, email, email_fold, password_hash, full_name,
                   first_name, last_name, phone, avatar_url, avatar_key, extra, roles, is_active,
                   token_version, created_at, updated_at, deleted_at, search_text)
SELECT gen_random_uuid()::text, 'bench', 'user' || i, 'user' || i, 'user' || i || '@example.com',
       'user' || i || '@example.com', NULL, f || ' ' || l, f, l, NULL, NULL, NULL, '{}', '["user"]', true,
       0, now() - make_interval(secs => $n - i), now(), NULL,
       lower('user' || i || ' user' || i || ' example com ' || f || ' ' || l || ' ' || f || ' ' || l)
FROM (
  SELECT i,
         (string_to_array('$FIRST', ' '))[1 + i % 16] AS f,
         CASE WHEN i % 100000 = 7 THEN '$RARE' ELSE (string_to_array('$LAST', ' '))[1 + (i / 16) % 16] END AS l
  FROM generate_series(1, $n) AS i
) s;
SQL
    # A million rows inserted at once leave work behind that a namespace grown by sign-ups never has:
    # an autovacuum of the whole table and a checkpoint's worth of dirty pages, which ran during the
    # first measurements (list page 1's p99 at 14-217 ms right after the seed, 6-7 ms once they were
    # done). Done here, before the clock starts; VACUUM cannot run inside the heredoc's transaction.
    psql "$url" -v ON_ERROR_STOP=1 -qc "VACUUM (ANALYZE) users" -c "CHECKPOINT"
}

seed_sqlite() {
    local file=$1 n=$2
    python3 - "$file" "$n" "$FIRST" "$LAST" "$RARE" <<'PY'
import sqlite3, sys, uuid
path, n, first, last, rare = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
db = sqlite3.connect(path)
def rows():
    for i in range(1, n + 1):
        f = first[i % 16]
        l = rare if i % 100000 == 7 else last[(i // 16) % 16]
        u = f"user{i}"
        yield (str(uuid.uuid4()), "bench", u, u, f"{u}@example.com", f"{u}@example.com", f"{f} {l}", f, l,
               "{}", '["user"]', 1, 0, f"-{n - i} seconds",
               f"{u} {u} example com {f} {l} {f} {l}".lower())
db.executemany(
    "INSERT INTO users (id, namespace, username, username_fold, email, email_fold, full_name, first_name,"
    " last_name, extra, roles, is_active, token_version, created_at, updated_at, search_text)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, datetime('now', ?), datetime('now'), ?)", rows())
db.commit()
db.execute("ANALYZE")
db.close()
PY
}

# In a session of its own, as a daemon runs (bench/lib.sh's start_server says why).
start_server() {
    local url=$1; shift
    env APP_ENV=test DATABASE_URL="$url" USER_SERVICE__SERVER__PORT="$PORT" \
        USER_SERVICE__SERVER__HOST=127.0.0.1 USER_SERVICE__AUTH__BCRYPT_COST=4 \
        USER_SERVICE__LOG__LEVEL=warn USER_SERVICE_CONFIG_DIR="$ROOT/config" "$@" \
        setsid "$BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -fs "$BASE/health" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited"; }
        sleep 0.2
    done
    die "the server did not become healthy"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# wrk's summary as "p50 p99 req/s" (latencies in ms).
measure() {
    local out
    out=$(wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@")
    echo "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%.2f %.2f %.0f %s\n", p50, p99, rps, (bad == "" ? 0 : bad) }'
}

bench_backend() {
    local backend=$1 url n
    case $backend in
        postgres)
            PG_DB="us_bench_$$"
            psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
            url="${PG_ADMIN_URL%/*}/$PG_DB"; n=$PG_USERS ;;
        sqlite)
            url="sqlite://$WORK/bench.db"; n=$SQLITE_USERS ;;
        *) die "unknown backend $backend" ;;
    esac
    env APP_ENV=test DATABASE_URL="$url" USER_SERVICE_CONFIG_DIR="$ROOT/config" "$BIN" migrate >/dev/null
    start_server "$url" USER_SERVICE__RATE_LIMIT__ENABLED=false
    local key
    key=$(curl -fs -X POST "$BASE/userspaces" -H 'content-type: application/json' -d '{"namespace":"bench"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["api_key"])')
    stop_server
    echo "[$backend] seeding $n users..." >&2
    local t0=$SECONDS
    if [ "$backend" = postgres ]; then seed_postgres "$url" "$n"; else seed_sqlite "$WORK/bench.db" "$n"; fi
    local seed_secs=$((SECONDS - t0))

    start_server "$url" USER_SERVICE__RATE_LIMIT__ENABLED=false
    local token
    token=$(curl -fs -X POST "$BASE/auth/register" -H 'content-type: application/json' \
        -d '{"namespace":"bench","username":"bench-me","password":"benchmark-pw"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    local report="$RESULTS/admin-$backend.md"
    {
        echo "## $backend: $n users in one namespace (seeded in ${seed_secs}s)"
        echo
        echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION; latencies in ms."
        echo
        echo "| request | p50 | p99 | req/s | non-2xx |"
        echo "|---|---|---|---|---|"
    } >"$report"
    row() {
        local name=$1; shift
        local r; r=$(measure "$@")
        set -- $r
        echo "| $name | $1 | $2 | $3 | $4 |" >>"$report"
        echo "[$backend] $name: p50 $1 ms, p99 $2 ms, $3 req/s, non-2xx $4" >&2
    }
    local auth=(-H "X-API-Key: $key")
    row "search common prefix \`jo\`" "${auth[@]}" "$BASE/api/v1/users/search?q=jo"
    row "search rare word \`$RARE\`" "${auth[@]}" "$BASE/api/v1/users/search?q=$RARE"
    row "search phrase \`\"john smith\"\`" "${auth[@]}" "$BASE/api/v1/users/search?q=%22john%20smith%22"
    row "list page 1" "${auth[@]}" "$BASE/api/v1/users?page=1&page_size=20"
    row "list offset 10000" "${auth[@]}" "$BASE/api/v1/users?limit=20&offset=10000"
    row "GET /users/me, rate limiter off" -H "Authorization: Bearer $token" "$BASE/users/me"
    stop_server
    start_server "$url" USER_SERVICE__RATE_LIMIT__ENABLED=true \
        USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE=4000000000 USER_SERVICE__RATE_LIMIT__PER_USER_PER_HOUR=4000000000
    row "GET /users/me, rate limiter on (in process)" -H "Authorization: Bearer $token" "$BASE/users/me"
    stop_server
    echo >>"$report"
    cat "$report"
    if [ "$backend" = postgres ]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null; PG_DB=""
    fi
}

for b in $BACKENDS; do
    bench_backend "$b"
done
