import { defineJob } from '../spec.js'
import { capacityContext, type CapacityOptions } from './context.js'
import { CAPACITY_HISTORY } from './facts.js'

/**
 * `capacity-report`: capacity-planning.py, measured instead of assumed: sizes, rows and bytes per
 * day, growth, the day each disk fills, Redis memory, and what to do about it. Read-only; steps
 * one after another, each figure gathered once by the first step that needs it.
 */
export const capacityReport = defineJob({
  id: 'capacity-report',
  command: 'capacity-report',
  metrics: async () => (await import('./metrics.js')).capacityMetrics,
  order: 'sequential',
  steps: [
    {
      id: 'database',
      title: 'Database size, tables and rows per day',
      summary:
        "database size; every table's heap, index and TOAST size; task_results (and every retention rule's table) rows per day over the window and real bytes per row, from planner statistics and an index range scan (never a count(*) over the whole table)",
      load: async () => (await import('./steps.js')).database,
    },
    {
      id: 'growth',
      title: 'Growth per day and size under retention',
      summary:
        'bytes per day of the database and its large tables (least squares over saved reports, or the measured rows per day before there is enough history), the size under the configured retention, and under other retentions',
      load: async () => (await import('./steps.js')).growth,
    },
    {
      id: 'disk',
      title: 'Disk usage and fill forecast',
      summary: 'usage of the data, backup and log disks and disk.paths, the day each fills (or "not filling")',
      load: async () => (await import('./steps.js')).disk,
    },
    {
      id: 'redis',
      title: 'Redis memory',
      summary: 'used memory against maxmemory, and its growth from saved reports',
      load: async () => (await import('./steps.js')).redis,
    },
    {
      id: 'recommendations',
      title: 'Recommendations',
      summary: 'what to do, each with a priority and the figure behind it',
      load: async () => (await import('./steps.js')).recommendations,
    },
  ],
  history: CAPACITY_HISTORY,
  defaultTimeoutSeconds: 600,
  context: (config, options: CapacityOptions) => capacityContext(config, options),
})
