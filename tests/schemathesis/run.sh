#!/usr/bin/env bash
# Schemathesis (property-based API testing) over the running binary's own /openapi.json, with every
# check, as a plain user (Bearer), as a service key (X-API-Key) and as the operator (X-Admin-Key).
# Any failure makes the script exit non-zero. See docs/TESTING.md.
#
#   tests/schemathesis/run.sh                 # debug binary, the default example budget
#   USER_SERVICE_BIN=target/release/user-service SCHEMATHESIS_MAX_EXAMPLES=200 tests/schemathesis/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

venv="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/user-service/venv}"
version="${SCHEMATHESIS_VERSION:-4.32.5}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-10}"
bin="${USER_SERVICE_BIN:-$root/target/debug/user-service}"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$version"; then
    echo "installing schemathesis $version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
if [[ -z "${USER_SERVICE_BIN:-}" ]]; then
    cargo build --quiet --bin user-service
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

operator_key="schemathesis-operator-key-$RANDOM$RANDOM"
# The test profile (cheap bcrypt, quiet logs) with the limiters switched back on, but far out of reach,
# so their middleware and headers are exercised without a 429 ending a pass early.
APP_ENV=test \
USER_SERVICE_CONFIG_DIR="$root/config" \
USER_SERVICE__SERVER__PORT=0 \
USER_SERVICE__DATABASE__URL="sqlite://$work/db.sqlite" \
USER_SERVICE__STORAGE__LOCAL_ROOT="$work/uploads" \
USER_SERVICE__ADMIN__API_KEY="$operator_key" \
USER_SERVICE__RATE_LIMIT__ENABLED=true \
USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE=100000000 \
USER_SERVICE__RATE_LIMIT__PER_USER_PER_HOUR=100000000 \
USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES=100000000 \
    "$bin" >"$work/server.log" 2>&1 &
server_pid=$!

base=
for _ in $(seq 1 300); do
    base=$(grep -o 'listening on http://[0-9.:]*' "$work/server.log" | head -1 | sed 's/listening on //' || true)
    [[ -n "$base" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.1
done
[[ -n "$base" ]] || { echo "the server did not start"; cat "$work/server.log"; exit 1; }
echo "user-service at $base"

# The actors: a namespace with its service key, and one plain user in it.
export US_BASE="$base" US_OPERATOR_KEY="$operator_key"
"$venv/bin/python" "$root/tests/schemathesis/setup.py" >"$work/actors.sh"
# shellcheck disable=SC1091
source "$work/actors.sh"

status=0
# run_pass NAME [schemathesis options]: one pass, aimed at the objects of NAME's own user.
run_pass() {
    local name=$1; shift
    local key=${name^^}; key=${key%%_*}
    local user_var="US_${key}_USER_ID" session_var="US_${key}_SESSION_ID"
    export US_USER_ID=${!user_var} US_SESSION_ID=${!session_var}
    echo "=== schemathesis as $name"
    # From the work directory, so the run leaves no cache behind in the repository.
    if ! (cd "$work" && "$venv/bin/schemathesis" --config-file "$root/tests/schemathesis/schemathesis.toml" \
        run "$base/openapi.json" \
        --checks all \
        --max-examples "$max_examples" \
        --seed "${SCHEMATHESIS_SEED:-1}" \
        --workers 1 \
        --no-color \
        --generation-database none \
        --generation-with-security-parameters false \
        --report junit --report-dir "${SCHEMATHESIS_REPORT_DIR:-$work/report}/$name" \
        "$@"); then
        status=1
    fi
}
user=(-H "Authorization: Bearer $US_USER_TOKEN")
# Logging out everywhere makes the pass's own token stale, so it runs alone, after the rest.
run_pass user "${user[@]}" --exclude-name "POST /auth/logout-all"
run_pass user_logout_all "${user[@]}" --include-name "POST /auth/logout-all"
run_pass service -H "X-API-Key: $US_SERVICE_KEY"
run_pass operator -H "X-Admin-Key: $operator_key"

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server died during the run"; cat "$work/server.log"; status=1
fi
exit $status
