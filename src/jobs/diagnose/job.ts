import type { Config } from '../../config/load.js'
import type { Job, Step } from '../../report/runner.js'
import { startCpuSample } from '../../systems/host.js'
import { ServiceRuntimes } from '../../systems/services.js'
import { alertsStep } from './alerts.js'
import type { DiagnoseContext } from './context.js'
import { hostStep } from './host.js'
import { httpStep } from './http.js'
import { logsStep } from './logs.js'
import { postgresStep } from './postgres.js'
import { redisStep } from './redis.js'
import { servicesStep } from './services.js'

/** Slack over a check's own timeout before the runner gives up on it. */
const BACKSTOP_MS = 500

/**
 * Everything diagnose.sh showed, as concurrent read-only checks, each bounded so that one hung
 * dependency costs its timeout and no more.
 */
export function diagnoseJob(config: Config): { job: Job<DiagnoseContext>; context: DiagnoseContext } {
  const bound = (step: Step<DiagnoseContext>): Step<DiagnoseContext> => ({ ...step, timeoutMs: config.diagnose.checkTimeoutMs + BACKSTOP_MS })
  return {
    job: {
      command: 'diagnose',
      concurrent: true,
      steps: [
        ...[hostStep, servicesStep, httpStep, postgresStep, redisStep, logsStep, alertsStep].map(bound),
        // Beyond this host: the platform's monitoring and its agents, through Prometheus, AlertManager and Loki.
        { id: 'monitoring', title: 'Monitoring stack', load: async () => (await import('./monitoring-step.js')).monitoring },
        { id: 'agents', title: 'Agents', load: async () => (await import('./agents-step.js')).agents },
      ],
    },
    // The runtimes answer within the check's bound too, not the docker client's own default.
    context: {
      config,
      runtimes: new ServiceRuntimes({
        ...config,
        docker: { ...config.docker, timeoutMs: Math.min(config.docker.timeoutMs, config.diagnose.checkTimeoutMs) },
        systemd: { timeoutMs: Math.min(config.systemd.timeoutMs, config.diagnose.checkTimeoutMs) },
      }),
      cpuSample: startCpuSample(),
    },
  }
}
