#!/bin/bash
# scripts/disaster-recovery.sh
#
# BENCH COPY of the guide's disaster-recovery.sh (../seed/monitoring-and-maintenance-guide.md,
# "灾难恢复"), used by bench/backup-restore.ts as the baseline `probe-ops restore --mode full` is
# compared with. It is changed ONLY where it could not run against the bench's setup as
# written; every change is marked "BENCH CHANGE" and keeps the guide's value as the default:
#   1. LOG_FILE comes from $LOG_FILE (default the guide's /var/log/network-probe/...).
#   2. The pre-recovery backup script comes from $BACKUP_SCRIPT (default the guide's
#      /opt/network-probe/scripts/backup-database.sh; the bench passes
#      bench/guide/backup-database.sh).
#   3. `docker-compose stop|start management` -> `docker stop|start management`: docker-compose
#      is not installed here and the bench's management container is a plain container named
#      `management` under a private dockerd ($DOCKER_HOST). `docker` is the client named by
#      $DOCKER_CLI (as in bench/guide/diagnose.sh). docker-compose v1 is a Python program: the
#      original would be slower here, not faster.
#   4. `docker exec [-i] postgres psql -U postgres ...` -> `psql -U postgres ...` on the host
#      (PGHOST/PGPORT/PGPASSWORD from the bench's environment): the bench's PostgreSQL 15 runs
#      on the host. Same psql 15 either way.
#   5. `bench_mark EVENT` lines write a millisecond timestamp per phase to $BENCH_MARKS (when
#      set), so the bench can split the time (pre-recovery backup, stop, drop/create, load,
#      start). They do nothing else.
# Everything else (no `set -e`, DROP before the restore is known to work, DATE computed once) is
# the guide's.

# BENCH CHANGE 3: the docker client to use (default: `docker` on PATH, as in the guide).
docker() { command "${DOCKER_CLI:-docker}" "$@"; }
# BENCH CHANGE 5: phase timestamps for the bench.
bench_mark() { if [ -n "$BENCH_MARKS" ]; then echo "$(date +%s%3N) $1" >> "$BENCH_MARKS"; fi; }

BACKUP_FILE=$1
RECOVERY_TYPE=$2  # full, partial, point-in-time

if [ $# -lt 2 ]; then
    echo "Usage: $0 <backup_file> <recovery_type>"
    echo "Recovery types: full, partial, point-in-time"
    exit 1
fi

LOG_FILE="${LOG_FILE:-/var/log/network-probe/disaster-recovery.log}"   # BENCH CHANGE 1
DATE=$(date '+%Y-%m-%d %H:%M:%S')

echo "[$DATE] Starting disaster recovery..." >> $LOG_FILE
echo "[$DATE] Backup file: $BACKUP_FILE" >> $LOG_FILE
echo "[$DATE] Recovery type: $RECOVERY_TYPE" >> $LOG_FILE

# 创建恢复前备份
echo "[$DATE] Creating pre-recovery backup..." >> $LOG_FILE
bench_mark pre-backup-begin
"${BACKUP_SCRIPT:-/opt/network-probe/scripts/backup-database.sh}"   # BENCH CHANGE 2
bench_mark pre-backup-end

case $RECOVERY_TYPE in
    "full")
        echo "[$DATE] Performing full recovery..." >> $LOG_FILE
        
        # 停止应用服务
        bench_mark stop-begin
        docker stop management   # BENCH CHANGE 3 (docker-compose stop management)
        bench_mark stop-end
        
        # 清空数据库
        # BENCH CHANGE 4 (here and below): `docker exec [-i] postgres psql` -> `psql` on the host
        psql -U postgres -c "DROP DATABASE IF EXISTS network_probe;"
        bench_mark dropped
        psql -U postgres -c "CREATE DATABASE network_probe;"
        bench_mark created
        
        # 恢复数据
        if [[ $BACKUP_FILE == *.gz ]]; then
            gunzip -c $BACKUP_FILE | psql -U postgres -d network_probe
        else
            psql -U postgres -d network_probe < $BACKUP_FILE
        fi
        bench_mark loaded
        
        # 重启服务
        docker start management   # BENCH CHANGE 3 (docker-compose start management)
        bench_mark start-end
        ;;
        
    "partial")
        echo "[$DATE] Performing partial recovery..." >> $LOG_FILE
        # 实现部分恢复逻辑
        ;;
        
    "point-in-time")
        echo "[$DATE] Performing point-in-time recovery..." >> $LOG_FILE
        # 实现时间点恢复逻辑
        ;;
esac

echo "[$DATE] Disaster recovery completed" >> $LOG_FILE
