#!/usr/bin/env bash
# Where the CPU of one hot path goes: the release binary on a fresh database under wrk, sampled by
# `perf record -e cpu-clock` (works where hardware counters do not). Prints the share per binary
# (kernel, libc, ours) and the top symbols. Knobs: BACKEND (sqlite|postgres), TARGET (me|refresh),
# SECONDS_ (10). Installs linux-perf when missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_tools
command -v perf >/dev/null || (apt-get install -y -qq linux-perf >/dev/null)
BACKEND="${BACKEND:-sqlite}"
SECS="${SECONDS_:-10}"
DATA=$(mktemp)
url=$(fresh_db "$BACKEND")
start_server "$url" USER_SERVICE__AUTH__BCRYPT_COST=4
curl -sf -X POST "$BASE/userspaces" -H 'Content-Type: application/json' -d '{"namespace":"bench"}' >/dev/null
reg=$(curl -sf -X POST "$BASE/auth/register" -H 'Content-Type: application/json' \
  -d '{"namespace":"bench","username":"alice","password":"supersecret123"}')
token=$(json_field access_token <<<"$reg")
case "${TARGET:-me}" in
  me)
    TOKEN="$token" wrk -t2 -c64 -d"$((SECS + 2))s" -s "$BENCH_DIR/lua/get_bearer.lua" "$BASE/users/me" >/dev/null &
    ;;
  refresh)
    # 64 independent rotation chains, as bench/spine.sh runs them.
    tokens=$(mktemp)
    for _ in $(seq 1 64); do
      curl -sf -X POST "$BASE/auth/login" -H 'Content-Type: application/json' \
        -d '{"namespace":"bench","username":"alice","password":"supersecret123"}' | json_field refresh_token >>"$tokens"
    done
    TOKENS="$tokens" THREADS=2 wrk -t2 -c64 -d"$((SECS + 2))s" -s "$BENCH_DIR/lua/refresh_chain.lua" "$BASE" >/dev/null &
    ;;
esac
load=$!
sleep 1
perf record -q -e cpu-clock ${CALLGRAPH:--g} -p "$SERVER_PID" -o "$DATA" -- sleep "$SECS" >/dev/null 2>&1
wait $load
if [ -n "${KEEP:-}" ]; then cp "$DATA" "$KEEP"; fi
stop_server
drop_db "$url"
echo "== share of samples per binary ($BACKEND, ${TARGET:-me} c=64)"
perf report -i "$DATA" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
echo "== top symbols"
perf report -i "$DATA" --no-children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -40 || true
rm -f "$DATA"
