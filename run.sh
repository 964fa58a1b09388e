#!/usr/bin/env bash
# Builds both servers in release mode and runs them on the SQLite default:
# the auth server on 127.0.0.1:8080 and the resource server on 127.0.0.1:8081,
# or on the addresses in AUTH_BIND and RESOURCE_BIND when they are set.
# Data (the SQLite file and the signing key) goes to ./data. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"

export AUTH_BIND="${AUTH_BIND:-127.0.0.1:8080}"
export RESOURCE_BIND="${RESOURCE_BIND:-127.0.0.1:8081}"
# The auth server's default issuer: its bind address, with 0.0.0.0 as 127.0.0.1.
auth_url="${AUTH_ISSUER:-http://${AUTH_BIND/#0.0.0.0:/127.0.0.1:}}"
export RESOURCE_ISSUER="${RESOURCE_ISSUER:-$auth_url}"
auth_port="${AUTH_BIND##*:}"

cargo build --release --locked -p auth-server -p resource-server

auth_pid=""
resource_pid=""
stop() {
    [ -n "$resource_pid" ] && kill "$resource_pid" 2>/dev/null || true
    [ -n "$auth_pid" ] && kill "$auth_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

./target/release/auth-server &
auth_pid=$!

# Wait until the auth server answers, so the resource server finds its keys
# at once (it would also retry on its own).
for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$auth_port) 2>/dev/null; then
        break
    fi
    sleep 0.1
done

./target/release/resource-server &
resource_pid=$!

echo
echo "auth server:     $auth_url   (JWKS: $auth_url/.well-known/jwks.json)"
echo "resource server: http://$RESOURCE_BIND   (try: curl http://$RESOURCE_BIND/api/me)"
echo "Press Ctrl-C to stop both."
wait
