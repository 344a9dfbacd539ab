#!/usr/bin/env bash
# Run a command with a throwaway real redis-server on a free loopback port; stop it afterwards.
# Also a Redis Cluster (three masters, a replica each), a TLS-only server (a CA made here with openssl)
# and a Sentinel-managed pair, for the shared-state tests (tests/topologies.py; HARMONIA_TEST_TOPOLOGIES=0
# skips them, and the tests that need them then fail, saying so).
# Installs Debian's redis-server (and openssl) when missing and we are root; otherwise says what to install.
set -euo pipefail

missing=""
command -v redis-server >/dev/null 2>&1 || missing="redis-server"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "harmonia: installing Debian's$missing for the tests" >&2
    log=$(mktemp)
    # shellcheck disable=SC2086 # one word per package
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >"$log" 2>&1; then
      tail -n 30 "$log" >&2; echo "harmonia: could not install$missing (above: apt-get's last words)" >&2; exit 1
    fi
    rm -f "$log"
  else
    echo "$missing required for the tests: install Debian's packages (sudo apt-get install$missing)" >&2
    exit 1
  fi
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no \
  --logfile "$dir/redis.log" &
pid=$!
root="$(cd "$(dirname "$0")/.." && pwd)"
cleanup() {
  (cd "$root" && python3 -m tests.topologies down "$dir/topologies") || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 50); do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.1
done
echo "harmonia: redis-server $(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/') on 127.0.0.1:$port (throwaway)" >&2
if [ "${HARMONIA_TEST_TOPOLOGIES:-1}" != "0" ]; then
  mkdir -p "$dir/topologies"
  if ! (cd "$root" && python3 -m tests.topologies up "$dir/topologies"); then
    echo "harmonia: could not start the Redis Cluster, TLS and Sentinel topologies (their reasons above)" >&2; exit 1
  fi
  # shellcheck disable=SC1091 # written just above
  . "$dir/topologies/env"
  echo "harmonia: Redis Cluster (3 masters + 3 replicas), TLS server and Sentinel pair up (throwaway)" >&2
fi
export HARMONIA_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
export HARMONIA_TEST_REDIS_PORT="$port"
export HARMONIA_TEST_REDIS_PID="$pid"
"$@"
