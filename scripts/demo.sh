#!/usr/bin/env bash
# The demo: builds probe-ops, starts a throwaway local platform in ./.sandbox (PostgreSQL with
# the platform's schema and 120 days of results, Redis, AlertManager, stand-ins for the
# management API and web UI, Prometheus with the guide's alert rules scraping the node/postgres/
# redis exporters and 10 generated agents, and Loki with the agents' logs when a Loki binary is
# found, all on 127.0.0.1), takes a backup of its database and configuration, and runs
# `probe-ops diagnose` against it.
# `node bin/run.js sandbox down` removes it again. Run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/use-node.sh
use_node 22
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
# The monitoring the guide deploys; Loki is not in Debian (scripts/install-test-deps.sh puts it in .tools/).
for program in prometheus prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter; do
  command -v "$program" >/dev/null || missing+=("$program")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

echo "== build"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

echo "== sandbox"
node bin/run.js sandbox up --dir .sandbox

# Last night's backups, as cron would have taken them: diagnose's backups step then finds them.
echo "== probe-ops backup database && probe-ops backup config"
node bin/run.js backup database --config .sandbox/probe-ops.yaml
node bin/run.js backup config --config .sandbox/probe-ops.yaml

echo "== probe-ops diagnose --config .sandbox/probe-ops.yaml"
node bin/run.js diagnose --config .sandbox/probe-ops.yaml
