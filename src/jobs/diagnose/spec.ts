import { defineJob } from '../spec.js'
import type { DiagnoseContext, DiagnoseOptions } from './context.js'

/** The checks' own bounds and a moment to report: diagnose's --timeout unless given. */
const REPORT_SECONDS = 5

/**
 * Everything diagnose.sh showed, as concurrent read-only checks, each bounded so that one hung
 * dependency costs its timeout and no more. Changes nothing, so it takes no lock.
 */
export const diagnose = defineJob({
  id: 'diagnose',
  command: 'diagnose',
  metrics: async () => (await import('./metrics.js')).diagnoseMetrics,
  order: 'concurrent',
  steps: [
    {
      id: 'host',
      title: 'Host resources',
      summary: 'CPU, load, memory and disk usage against disk.warningPercent/criticalPercent',
      load: async () => (await import('./host.js')).host,
    },
    {
      id: 'services',
      title: 'Service state',
      summary: "each service's runtime state beside its readiness check: running, serving, or why not",
      load: async () => (await import('./services.js')).services,
    },
    {
      id: 'http',
      title: 'HTTP endpoints',
      summary: 'the health URL of each HTTP service: status and latency',
      load: async () => (await import('./http.js')).http,
    },
    {
      id: 'postgres',
      title: 'PostgreSQL',
      summary: 'SELECT 1, connections, size, cache hit ratio, the longest query and transaction',
      load: async () => (await import('./postgres.js')).postgres,
    },
    {
      id: 'redis',
      title: 'Redis',
      summary: 'PING, memory against maxmemory, evictions, the last save',
      load: async () => (await import('./redis.js')).redis,
    },
    {
      id: 'logs',
      title: 'Recent errors in service logs',
      summary: "errors in the logs of every service since --since, repeats grouped; every host's through Loki when loki.url is set",
      load: async () => (await import('./logs.js')).logs,
    },
    {
      id: 'alerts',
      title: 'Firing alerts',
      summary: 'what AlertManager has firing',
      load: async () => (await import('./alerts.js')).alerts,
    },
    // Beyond this host: the platform's monitoring and its agents, through Prometheus, AlertManager and Loki.
    {
      id: 'monitoring',
      title: 'Monitoring stack',
      summary: "Prometheus's targets, rules and exporters, AlertManager's receivers, Loki's readiness; skipped when prometheus.url is empty",
      load: async () => (await import('./monitoring.js')).monitoring,
    },
    {
      id: 'agents',
      title: 'Agents',
      summary: 'the agents in trouble, as `probe-ops agents` judges them; skipped when prometheus.url is empty',
      load: async () => (await import('./agents.js')).agents,
    },
    {
      id: 'backups',
      title: 'Backups',
      summary:
        "each repository's newest backup of each kind against backup.maxAge and its last verification, PostgreSQL's WAL archiver, the last archived WAL file in each repository, interrupted restores",
      load: async () => (await import('./backups.js')).backups,
    },
  ],
  defaultTimeoutSeconds: (config, options: DiagnoseOptions) => Math.ceil((options.checkTimeoutMs ?? config.diagnose.checkTimeoutMs) / 1000) + REPORT_SECONDS,
  async context(config, options: DiagnoseOptions): Promise<DiagnoseContext> {
    const [{ startCpuSample }, { ServiceRuntimes }] = await Promise.all([import('../../systems/host.js'), import('../../systems/services.js')])
    const cpuSample = startCpuSample()
    const checkTimeoutMs = options.checkTimeoutMs ?? config.diagnose.checkTimeoutMs
    return {
      config,
      cpuSample,
      checkTimeoutMs,
      sinceMs: options.sinceMs ?? config.diagnose.sinceMs,
      // The runtimes answer within the check's bound too, not the Docker client's own default.
      runtimes: new ServiceRuntimes({
        ...config,
        docker: { ...config.docker, timeoutMs: Math.min(config.docker.timeoutMs, checkTimeoutMs) },
        systemd: { timeoutMs: Math.min(config.systemd.timeoutMs, checkTimeoutMs) },
      }),
    }
  },
})
