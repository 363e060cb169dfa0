import type { Config } from '../../config/load.js'
import type { StepOutcome } from '../../report/runner.js'
import type { CpuSample } from '../../systems/host.js'
import type { ServiceRuntimes } from '../../systems/services.js'

export interface DiagnoseContext {
  config: Config
  runtimes: ServiceRuntimes
  /** Started with the job, so the host step's sample is over by the time it runs. */
  cpuSample: CpuSample
}

/** Something wrong, and the command that deals with it. */
export interface Problem {
  message: string
  next: string
  /** A warning is worth a look; a failure is something down. */
  severity: 'warning' | 'failed'
}

/**
 * A diagnose step's outcome from its findings: the worst problem sets the status, the first
 * of the worst becomes the error, and every problem keeps its next command for the report.
 */
export function verdict(summary: string, details: string[], problems: Problem[], data: Record<string, unknown> = {}): StepOutcome {
  const failed = problems.filter((p) => p.severity === 'failed')
  const worst = failed[0] ?? problems[0]
  return {
    status: failed.length > 0 ? 'failed' : problems.length > 0 ? 'warning' : 'ok',
    summary,
    data: { ...data, details, problems: problems.map(({ message, next, severity }) => ({ severity, message, next })) },
    ...(worst ? { error: { message: worst.message, hint: worst.next } } : {}),
  }
}
