import type { Config } from '../../config/load.js'
import type { Job } from '../../report/runner.js'
import { cacheStep } from './cache.js'
import { connectionsStep } from './connections.js'
import type { PerformanceContext } from './context.js'
import { prometheusStep } from './prometheus.js'
import { statementsStep } from './statements.js'
import { tablesStep } from './tables.js'

/** The kind of the saved reports: reports.dir/performance-YYYY-MM-DD.json. */
export const PERFORMANCE_HISTORY = 'performance'

export const PERFORMANCE_COMMAND = 'report performance'

/**
 * generate-performance-report.sh: PostgreSQL's statements, cache, connections and tables, and
 * the platform's throughput, latency and agents from Prometheus. Read-only; the steps are
 * independent and run at once.
 */
export function performanceJob(config: Config): { job: Job<PerformanceContext>; context: PerformanceContext } {
  return {
    job: { command: PERFORMANCE_COMMAND, concurrent: true, steps: [statementsStep, cacheStep, connectionsStep, tablesStep, prometheusStep] },
    context: { config },
  }
}
