#!/usr/bin/env bash
# Make sure promtool is available for the alerting-rule tests (tests/test_alert_rules.py).
# Installs Debian's prometheus package (which ships promtool) when missing and we are root;
# otherwise says what to install.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "harmonia: installing Debian's prometheus (for promtool) for the alerting-rule tests" >&2
  log=$(mktemp)
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus) >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "harmonia: could not install prometheus (above: apt-get's last words)" >&2; exit 1
  fi
  rm -f "$log"
  command -v promtool >/dev/null 2>&1 && exit 0
  echo "apt-get installed prometheus but promtool is still missing" >&2
  exit 1
fi
echo "promtool is required for the alerting-rule tests: install Debian's package (sudo apt-get install" \
  "prometheus), or put Prometheus' own promtool binary on the PATH" >&2
exit 1
