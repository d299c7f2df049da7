# Conveniences; the README's two commands are plain cargo and need none of this.

# Start the service on 127.0.0.1:8080 with embedded SQLite.
run:
    cargo run --release

# The whole test suite, SQLite and PostgreSQL (TEST_POSTGRES_URL, default the local server).
test:
    cargo test --workspace

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Load benchmark of every hot path on SQLite and PostgreSQL with the fastapi-users peer beside it;
# requests/s, p50/p99 and CPU per request in bench/results/ (see docs/BENCHMARKS.md).
bench:
    bash bench/run.sh

# Admin API benchmark (search, list, rate limiter cost); see bench/admin.sh for its knobs.
bench-admin:
    bash bench/admin.sh

# The ledger and usage hot paths only (see bench/credits.sh for its knobs).
bench-credits:
    bash bench/credits.sh

# Every fuzz target for SECONDS each (cargo-fuzz, installed when missing; see docs/TESTING.md).
fuzz SECONDS="60":
    bash fuzz/run.sh {{SECONDS}}
