/**
 * The alert rules of the platform's monitoring guide (deployment/monitoring/rules/network-probe.yml),
 * word for word: the local platform's Prometheus loads them, so that what a site runs is what
 * probe-ops is tried against. `promtool check rules` accepts them (10 rules in 3 groups).
 */

export const GUIDE_RULES_FILE = 'network-probe.yml'

export const GUIDE_RULE_GROUPS = ['network-probe-system', 'network-probe-application', 'network-probe-business'] as const

export const GUIDE_ALERT_RULES = `# deployment/monitoring/rules/network-probe.yml
groups:
  - name: network-probe-system
    rules:
      - alert: HighCPUUsage
        expr: 100 - (avg by(instance) (irate(node_cpu_seconds_total{mode="idle"}[5m])) * 100) > 80
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High CPU usage on {{ $labels.instance }}"
          description: "CPU usage is above 80% for more than 5 minutes"

      - alert: HighMemoryUsage
        expr: (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes * 100 > 85
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High memory usage on {{ $labels.instance }}"
          description: "Memory usage is above 85% for more than 5 minutes"

      - alert: DiskSpaceLow
        expr: (node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}) * 100 < 10
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: "Low disk space on {{ $labels.instance }}"
          description: "Disk space is below 10%"

  - name: network-probe-application
    rules:
      - alert: HighErrorRate
        expr: rate(http_requests_total{status=~"5.."}[5m]) / rate(http_requests_total[5m]) > 0.05
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High error rate detected"
          description: "Error rate is {{ $value | humanizePercentage }} for the last 5 minutes"

      - alert: HighResponseTime
        expr: histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 2
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High response time detected"
          description: "95th percentile response time is {{ $value }}s"

      - alert: DatabaseConnectionFailure
        expr: database_connections_active == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Database connection failure"
          description: "No active database connections"

      - alert: AgentDisconnected
        expr: agent_connection_status == 0
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: "Agent {{ $labels.agent_id }} disconnected"
          description: "Agent has been disconnected for more than 2 minutes"

      - alert: TaskFailureRateHigh
        expr: rate(tasks_total{status="error"}[5m]) / rate(tasks_total[5m]) > 0.1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High task failure rate"
          description: "Task failure rate is {{ $value | humanizePercentage }}"

  - name: network-probe-business
    rules:
      - alert: LowTaskThroughput
        expr: rate(tasks_total[5m]) < 10
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: "Low task throughput"
          description: "Task execution rate is below 10 tasks per second"

      - alert: UserCreditsLow
        expr: user_credits_balance < 100
        for: 1m
        labels:
          severity: info
        annotations:
          summary: "User {{ $labels.user_id }} has low credits"
          description: "User credits balance is {{ $value }}"
`
