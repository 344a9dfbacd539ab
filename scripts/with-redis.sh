#!/usr/bin/env bash
# Run a command with a throwaway real redis-server on a free loopback port; stop it afterwards.
# Installs Debian's redis-server when missing and we are root; otherwise says what to install.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "harmonia: installing Debian's redis-server for the tests" >&2
    log=$(mktemp)
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >"$log" 2>&1; then
      tail -n 30 "$log" >&2; echo "harmonia: could not install redis-server (above: apt-get's last words)" >&2; exit 1
    fi
    rm -f "$log"
  else
    echo "redis-server is required for the tests: install Debian's package (sudo apt-get install redis-server)" >&2
    exit 1
  fi
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no \
  --logfile "$dir/redis.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 50); do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.1
done
echo "harmonia: redis-server $(redis-server --version | sed -E 's/.*v=([0-9.]+).*/\1/') on 127.0.0.1:$port (throwaway)" >&2
export HARMONIA_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
export HARMONIA_TEST_REDIS_PORT="$port"
export HARMONIA_TEST_REDIS_PID="$pid"
"$@"
