import { defineJob } from '../spec.js'
import { performanceContext, type PerformanceOptions } from './context.js'

/**
 * `report performance`: generate-performance-report.sh. PostgreSQL's statements, cache,
 * connections and tables, and the platform's throughput, latency and agents from Prometheus.
 * Read-only; the steps are independent and run at once. maintain weekly runs it too.
 */
export const performanceReport = defineJob({
  id: 'performance-report',
  command: 'report performance',
  order: 'concurrent',
  steps: [
    {
      id: 'statements',
      title: 'Top statements (pg_stat_statements)',
      summary: 'top statements by total and by mean time (pg_stat_statements; skipped when not installed)',
      load: async () => (await import('./statements.js')).statements,
    },
    {
      id: 'cache',
      title: 'Cache hit ratio',
      summary: 'share of blocks read from shared buffers: database, tables, indexes',
      load: async () => (await import('./cache.js')).cache,
    },
    {
      id: 'connections',
      title: 'Connection use',
      summary: 'connections in use against max_connections, who holds them, lock waits',
      load: async () => (await import('./connections.js')).connections,
    },
    {
      id: 'tables',
      title: 'Sequential scans and dead tuples',
      summary: 'tables with the most rows read by sequential scans, and the most dead tuples',
      load: async () => (await import('./tables.js')).tables,
    },
    {
      id: 'prometheus',
      title: 'Task throughput, HTTP latency and agents (Prometheus)',
      summary:
        "task throughput and failure rate by protocol, HTTP p95 latency, agents connected, disconnected or down (every target of agents.job; prometheus.url, '' leaves it out)",
      load: async () => (await import('./prometheus.js')).prometheus,
    },
  ],
  /** reports.dir/performance-YYYY-MM-DD.json */
  history: 'performance',
  defaultTimeoutSeconds: 120,
  context: (config, options: PerformanceOptions) => performanceContext(config, options),
})
