#!/bin/sh
# Install what the integration test bed (test/bed/) needs on Debian (12 "bookworm"), as root.
# Idempotent: only packages that are missing are installed, and nothing when all are present.
#
# The bed starts its own instances on 127.0.0.1 at free ports with private data dirs, so any
# system services these packages start on install (postgresql on 5432, redis on 6379,
# alertmanager on 9093, prometheus on 9090, the exporters on 9100/9187/9121, docker) do not get
# in its way.
#
# Grafana Loki is not in Debian (its `loki` package is an unrelated program): the shared tools'
# install.sh, beside the repository (or beside the checkout a git worktree belongs to), puts
# Loki 2.4.2 into .tools/loki-2.4.2/loki, where the bed and the sandbox look for it.
set -eu

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: run this as root (the bed runs dockerd and initdb as root)" >&2
  exit 1
fi

# package -> a file that proves it is installed (dpkg's own record is checked too)
PACKAGES="
postgresql-15:/usr/lib/postgresql/15/bin/postgres
postgresql-client-15:/usr/lib/postgresql/15/bin/psql
redis-server:/usr/bin/redis-server
prometheus-alertmanager:/usr/bin/prometheus-alertmanager
prometheus:/usr/bin/prometheus
prometheus-node-exporter:/usr/bin/prometheus-node-exporter
prometheus-postgres-exporter:/usr/bin/prometheus-postgres-exporter
prometheus-redis-exporter:/usr/bin/prometheus-redis-exporter
docker.io:/usr/sbin/dockerd
containerd:/usr/bin/containerd
runc:/usr/sbin/runc
tini:/usr/bin/tini
iproute2:/usr/sbin/ip
util-linux:/usr/bin/nsenter
mount:/usr/bin/umount
tar:/usr/bin/tar
passwd:/usr/sbin/useradd
age:/usr/bin/age
zstd:/usr/bin/zstd
"

is_installed() {
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=""
for entry in $PACKAGES; do
  pkg=${entry%%:*}
  file=${entry#*:}
  if ! is_installed "$pkg" || [ ! -e "$file" ]; then
    missing="$missing $pkg"
  fi
done

if [ -n "$missing" ]; then
  echo "install-test-deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y --no-install-recommends $missing
else
  echo "install-test-deps: everything is installed"
fi

# The docker CLI: docker.io ships it as /usr/bin/docker; another install may provide it elsewhere.
if ! command -v docker >/dev/null 2>&1; then
  echo "install-test-deps: no docker CLI on PATH (docker.io should provide /usr/bin/docker)" >&2
  exit 1
fi

# docker-init (tini) runs as PID 1 of the bed's helper containers.
if [ ! -x /usr/bin/docker-init ]; then
  echo "install-test-deps: /usr/bin/docker-init is missing (docker.io or tini should provide it)" >&2
  exit 1
fi

# The postgres OS user the bed runs initdb/postgres as (created by postgresql-common).
if ! grep -q '^postgres:' /etc/passwd; then
  echo "install-test-deps: the postgres OS user is missing (postgresql-common should create it)" >&2
  exit 1
fi

# Loki, into the repository's .tools/ (install.sh does nothing when the binary there is the right one).
repo="$(cd "$(dirname "$0")/.." && pwd)"
loki_dest="$repo/.tools/loki-2.4.2/loki"
loki_install=""
# Beside this checkout, beside the checkout a worktree belongs to, or beside the local repository a
# clone was made from (a CI clone in a scratch directory); LOKI_INSTALL names the script outright.
origin="$(git -C "$repo" remote get-url origin 2>/dev/null || true)"
case "$origin" in /*) ;; *) origin="" ;; esac
if [ -n "${LOKI_INSTALL:-}" ] && [ -f "$LOKI_INSTALL" ]; then loki_install="$LOKI_INSTALL"; fi
for base in "$repo" "$(dirname "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$repo/.git")")" ${origin:+"$origin"}; do
  [ -z "$loki_install" ] || break
  if [ -f "$base/../shared/tools/loki/install.sh" ]; then
    loki_install="$base/../shared/tools/loki/install.sh"
    break
  fi
done
if [ -n "$loki_install" ]; then
  bash "$loki_install" "$loki_dest" >/dev/null
  echo "install-test-deps: loki at $loki_dest"
elif [ -x "$loki_dest" ]; then
  echo "install-test-deps: loki at $loki_dest (no shared install.sh to check it against)"
else
  echo "install-test-deps: no Loki: ../shared/tools/loki/install.sh is not beside $repo${origin:+ nor $origin}; set LOKI_INSTALL to it" >&2
  exit 1
fi

echo "install-test-deps: ok"
