#!/bin/bash
# scripts/backup-database.sh
#
# BENCH RECONSTRUCTION of the guide's backup-database.sh (../seed/monitoring-and-maintenance-guide.md
# runs /opt/network-probe/scripts/backup-database.sh from weekly-maintenance.sh and as the
# "pre-recovery backup" of disaster-recovery.sh, but never shows it). It is the usual script of
# that kind: a plain-SQL `pg_dump` of network_probe piped through `gzip` (level 6, gzip's
# default) into a dated file. Used by bench/backup-restore.ts. Changes from that usual script,
# each marked "BENCH CHANGE", with the guide's layout as the default:
#   1. The backup directory comes from $BACKUP_DIR (default /opt/network-probe/backups).
#   2. pg_dump runs on the host, connecting with the libpq variables PGHOST/PGPORT/PGUSER/
#      PGPASSWORD the bench sets, instead of `docker exec postgres pg_dump -U postgres`: the
#      bench's PostgreSQL 15 runs on the host, not in a container. Same pg_dump 15 either way.
#   3. `set -o pipefail`: a failed pg_dump fails the script (the usual script exits 0 with a
#      truncated .sql.gz). It changes no timing; the bench must not time a broken run.

set -o pipefail   # BENCH CHANGE 3

BACKUP_DIR="${BACKUP_DIR:-/opt/network-probe/backups}"   # BENCH CHANGE 1
DATE=$(date +%Y%m%d_%H%M%S)

mkdir -p "$BACKUP_DIR"

# BENCH CHANGE 2: `docker exec postgres pg_dump -U postgres network_probe` -> pg_dump on the host.
pg_dump -U postgres network_probe | gzip > "$BACKUP_DIR/network_probe_$DATE.sql.gz"
