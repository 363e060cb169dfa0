#!/usr/bin/python3
# BENCH COPY of the guide's capacity-planning.py (../seed/monitoring-and-maintenance-guide.md,
# "容量规划"), the baseline bench/capacity.ts compares `probe-ops capacity-report` with. It is
# changed ONLY where it could not run against the bench's PostgreSQL and Redis as written; each
# change is marked "BENCH CHANGE" and keeps the guide's value as the default:
#   1. PostgreSQL and Redis connection settings come from PGHOST/PGPORT/PGUSER/PGPASSWORD/
#      PGDATABASE and REDIS_HOST/REDIS_PORT/REDIS_PASSWORD (the bench's servers listen on free
#      ports on 127.0.0.1) instead of the hard-coded host "postgres"/"redis" and "password".
#   2. The report is written to $CAPACITY_REPORT_DIR (default /var/log/network-probe, as in the
#      guide), so that the bench can run it without touching /var/log.
# Everything else (its two queries, psutil's disk figures, the recommendations, the JSON dump)
# is as in the guide: its cost is part of what is measured. Run with Debian's /usr/bin/python3
# (python3-psycopg2, python3-psutil, python3-redis).
import os
import psutil
import psycopg2
import redis
import json
from datetime import datetime, timedelta

class CapacityMonitor:
    def __init__(self):
        # BENCH CHANGE 1: connection settings from the environment (the guide's values as defaults).
        self.db_conn = psycopg2.connect(
            host=os.environ.get("PGHOST", "postgres"),
            port=int(os.environ.get("PGPORT", "5432")),
            database=os.environ.get("PGDATABASE", "network_probe"),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", "password")
        )
        self.redis_conn = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), port=int(os.environ.get("REDIS_PORT", "6379")), password=os.environ.get("REDIS_PASSWORD", "password"))
    
    def check_database_growth(self):
        """检查数据库增长趋势"""
        cursor = self.db_conn.cursor()
        
        # 获取表大小
        cursor.execute("""
            SELECT 
                schemaname,
                tablename,
                pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) as size,
                pg_total_relation_size(schemaname||'.'||tablename) as size_bytes
            FROM pg_tables 
            WHERE schemaname = 'public'
            ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC;
        """)
        
        tables = cursor.fetchall()
        
        # 预测增长
        cursor.execute("""
            SELECT 
                DATE_TRUNC('day', execution_time) as date,
                COUNT(*) as daily_records
            FROM task_results 
            WHERE execution_time >= NOW() - INTERVAL '30 days'
            GROUP BY DATE_TRUNC('day', execution_time)
            ORDER BY date;
        """)
        
        daily_growth = cursor.fetchall()
        
        if daily_growth:
            avg_daily_records = sum(row[1] for row in daily_growth) / len(daily_growth)
            # 假设每条记录平均1KB
            daily_growth_mb = avg_daily_records * 1024 / 1024 / 1024
            monthly_growth_gb = daily_growth_mb * 30
            
            print(f"Average daily records: {avg_daily_records:.0f}")
            print(f"Estimated monthly growth: {monthly_growth_gb:.2f} GB")
        
        return tables, daily_growth
    
    def check_disk_usage(self):
        """检查磁盘使用情况"""
        disk_usage = psutil.disk_usage('/')
        
        total_gb = disk_usage.total / (1024**3)
        used_gb = disk_usage.used / (1024**3)
        free_gb = disk_usage.free / (1024**3)
        usage_percent = (used_gb / total_gb) * 100
        
        print(f"Disk Usage:")
        print(f"  Total: {total_gb:.2f} GB")
        print(f"  Used: {used_gb:.2f} GB ({usage_percent:.1f}%)")
        print(f"  Free: {free_gb:.2f} GB")
        
        return {
            'total_gb': total_gb,
            'used_gb': used_gb,
            'free_gb': free_gb,
            'usage_percent': usage_percent
        }
    
    def generate_capacity_report(self):
        """生成容量规划报告"""
        report = {
            'timestamp': datetime.now().isoformat(),
            'database': {},
            'disk': {},
            'recommendations': []
        }
        
        # 数据库分析
        tables, growth = self.check_database_growth()
        report['database']['tables'] = tables
        report['database']['growth_trend'] = growth
        
        # 磁盘分析
        disk_info = self.check_disk_usage()
        report['disk'] = disk_info
        
        # 生成建议
        if disk_info['usage_percent'] > 80:
            report['recommendations'].append({
                'type': 'disk_space',
                'priority': 'high',
                'message': 'Disk usage is above 80%, consider expanding storage'
            })
        
        if disk_info['usage_percent'] > 70:
            report['recommendations'].append({
                'type': 'data_cleanup',
                'priority': 'medium',
                'message': 'Consider implementing data archival strategy'
            })
        
        # 保存报告
        # BENCH CHANGE 2: the report directory from the environment.
        with open(f'{os.environ.get("CAPACITY_REPORT_DIR", "/var/log/network-probe")}/capacity-report-{datetime.now().strftime("%Y%m%d")}.json', 'w') as f:
            json.dump(report, f, indent=2, default=str)
        
        return report

if __name__ == "__main__":
    monitor = CapacityMonitor()
    report = monitor.generate_capacity_report()
    print("Capacity report generated successfully")
