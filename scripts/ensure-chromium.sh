#!/usr/bin/env bash
# Make sure headless Chromium is available for the GraphiQL browser test (tests/http/test_graphiql_browser.py).
# Installs Debian's chromium package when missing and we are root; otherwise says what to install.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "harmonia: installing Debian's chromium for the browser tests" >&2
  log=$(mktemp)
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "harmonia: could not install chromium (above: apt-get's last words)" >&2; exit 1
  fi
  rm -f "$log"
  [ -x "$CHROMIUM" ] && exit 0
  echo "apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "headless Chromium is required for the GraphiQL browser test: install Debian's package" \
  "(sudo apt-get install chromium) so that $CHROMIUM exists" >&2
exit 1
