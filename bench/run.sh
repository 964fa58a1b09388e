#!/usr/bin/env bash
# Builds the servers and the benchmark in release mode, then runs the
# benchmark, passing every argument on (try --help, or --smoke for a
# seconds-long check that the command works). Needs a PostgreSQL server:
# postgres://postgres@127.0.0.1:5432/test by default, or --postgres-url.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p auth-server -p resource-server -p bench
exec "${CARGO_TARGET_DIR:-target}/release/bench" "$@"
