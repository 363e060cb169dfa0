#!/usr/bin/env bash
# probe-ops needs Node.js >= 20.18 (and runs on 22 and 24).
set -euo pipefail
if ! command -v node >/dev/null 2>&1; then
  echo "Node.js is not installed: install Node.js 20.18 or newer (22 or 24 are fine) and run this again" >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=18)?0:1)'; then
  echo "Node.js $(node --version) is too old: probe-ops needs 20.18 or newer" >&2
  exit 1
fi
