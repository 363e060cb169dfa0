import { existsSync } from 'node:fs'
import type { ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import { summarizeLines } from '../../logs/errors.js'
import type { Finding, StepDefinition, StepOutcome, StepRun } from '../../report/outcome.js'
import { syncAlerts } from '../../systems/alert-sync.js'
import { isSystemError } from '../../systems/errors.js'
import { waitUntilReady } from '../../systems/readiness.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import { hintOf } from '../hints.js'
import { lookAtService, type ServiceLook } from '../shared/services-look.js'
import type { RecoverContext } from './context.js'
import type { RecoveryData } from './data.js'
import { liftSilences, silenceService } from './silences.js'
import { Timeline } from './timeline.js'

/** A container restarted this often and up for less than this long is crash-looping. */
const LOOP_RESTARTS = 3
const LOOP_UPTIME_S = 600
const LOOK_TIMEOUT_MS = 2000
const LOG_WINDOW_MS = 15 * 60_000
const LOG_TAIL = 20

async function logTail(service: ServiceConfig, runtimes: ServiceRuntimes): Promise<string[]> {
  try {
    return (await runtimes.logs(service, LOG_WINDOW_MS)).slice(-LOG_TAIL).map((line) => line.text)
  } catch (error) {
    return [`(logs not read: ${describeError(error)})`]
  }
}

/** PostgreSQL's data directory must exist before a restart, as the guide checks. */
async function checkDataDir(service: ServiceConfig, runtimes: ServiceRuntimes): Promise<string | undefined> {
  if (!service.dataDir) return undefined
  if (service.runtime === 'docker') {
    const { state } = await runtimes.container(service)
    const mount = state.mounts.find((m) => m.destination === service.dataDir || m.source === service.dataDir)
    if (mount) return existsSync(mount.source) ? undefined : `its data directory ${mount.source} (mounted at ${mount.destination}) is missing`
  }
  return existsSync(service.dataDir) ? undefined : `its data directory ${service.dataDir} is missing`
}

/** "running but not answering within 2 s (stopped, hung?), 3 restarts": what the look saw. */
function describeLook({ status, readiness, notServing }: ServiceLook): string {
  const s = status!
  const parts = [s.running ? (notServing ?? s.state) : s.state]
  if (s.health) parts.push(s.health)
  if (s.restarts) parts.push(`${s.restarts} restarts`)
  if (!s.running) parts.push(`not ready (${readiness.detail})`)
  else if (readiness.ready && !s.stoppedBySignal) parts.push('ready')
  return parts.join(', ')
}

/** Looks at the service and the errors in its recent logs, at the same time; a runtime that cannot be read fails the step. */
async function look(service: ServiceConfig, context: RecoverContext): Promise<{ seen: ServiceLook; recentErrors: number | undefined }> {
  const { config, runtimes } = context
  const [seen, recentErrors] = await Promise.all([
    lookAtService(service, { config, runtimes, readinessTimeoutMs: LOOK_TIMEOUT_MS }),
    // Logs that could not be read are said so, never counted as no errors.
    runtimes.logs(service, LOG_WINDOW_MS).then(
      (lines) => summarizeLines(lines).errors,
      () => undefined,
    ),
  ])
  if (!seen.status) throw seen.unreadable
  // A container that is gone is not recreated silently: the runtime says so, and what to do.
  if (service.runtime === 'docker' && !seen.status.found) await runtimes.container(service)
  return { seen, recentErrors: seen.status.found ? recentErrors : 0 }
}

async function recover(service: ServiceConfig, context: RecoverContext, run: StepRun): Promise<StepOutcome<RecoveryData>> {
  const { config, runtimes } = context
  const { outcomes } = context.state
  const name = service.name
  const force = context.forced.has(name)
  const timeline = new Timeline()
  const data: RecoveryData = { service: name, runtime: service.runtime, timeline: timeline.entries }
  const fail = (finding: Omit<Finding, 'subject'>, extra: Partial<RecoveryData> = {}): StepOutcome<RecoveryData> => {
    outcomes.set(name, 'failed')
    timeline.add('failed', finding.message)
    return { summary: finding.message, findings: [{ ...finding, subject: name }], data: { ...data, ...extra } }
  }

  const { seen, recentErrors } = await look(service, context).catch((error: unknown) => {
    outcomes.set(name, 'failed')
    throw error
  })
  const status = seen.status!
  const before = seen.readiness
  data.before = { state: status.state, running: status.running, restarts: status.restarts, ready: before.ready, readiness: before.detail, recentErrors }
  timeline.add(
    'look',
    `${describeLook(seen)}; ${recentErrors === undefined ? 'its logs could not be read' : `${recentErrors} errors in its logs of the last 15 min`}`,
  )

  // "Running" says nothing of a container that restarts every few seconds.
  const looping =
    status.runtime === 'docker' &&
    (status.restarts ?? 0) >= LOOP_RESTARTS &&
    (status.uptimeSeconds ?? 0) < LOOP_UPTIME_S &&
    (!before.ready || service.readiness === 'running')
  if (looping && !force) {
    return fail(
      {
        id: `service-crash-loop:${name}`,
        severity: 'high',
        message: `${name} is in a crash loop (${status.restarts} restarts); not restarted again`,
        fix: `read why in its logs, fix it, then: probe-ops recover ${name} --force`,
      },
      { logTail: await logTail(service, runtimes) },
    )
  }
  if (before.ready && !force) {
    outcomes.set(name, 'ready')
    return { summary: `ready (${before.detail}); nothing changed`, data }
  }
  const failedDependencies = service.dependsOn.filter((d) => outcomes.get(d) === 'failed')
  if (failedDependencies.length > 0) {
    return fail({
      id: `dependency-not-recovered:${name}`,
      severity: 'high',
      message: `not restarted: ${failedDependencies.join(', ')} could not be recovered`,
      fix: `recover ${failedDependencies.join(', ')} first: probe-ops recover ${failedDependencies[0]}`,
    })
  }
  const missingData = await checkDataDir(service, runtimes)
  if (missingData)
    return fail({
      id: `data-directory-missing:${name}`,
      severity: 'critical',
      message: `${name} not restarted: ${missingData}`,
      fix: `restore the data directory (probe-ops restore), or fix services.${name}.dataDir`,
    })

  const action = status.running ? 'restart' : 'start'
  const waitS = Math.round(service.readinessTimeoutMs / 1000)
  if (run.dryRun) {
    timeline.add('plan', `would ${action} through ${service.runtime}, then wait up to ${waitS} s for readiness`)
    return {
      summary: `would ${action} ${name} (${before.ready ? 'forced' : 'not ready'}), then wait up to ${waitS} s for readiness`,
      data: { ...data, plan: action },
    }
  }

  const silences = await silenceService(config, service, 2 * service.readinessTimeoutMs + 10 * 60_000, timeline)
  try {
    return await restart(service, context, run, { action, timeline, data, fail })
  } catch (error) {
    const known = error instanceof StepFailure || isSystemError(error)
    const message = known ? error.message : `${name}: ${describeError(error)}`
    return fail({
      id: `recovery-failed:${name}`,
      severity: 'high',
      message,
      fix: hintOf(error) ?? (known ? 'see the timeline' : `check the ${service.runtime} runtime`),
    })
  } finally {
    await liftSilences(config, silences, timeline)
  }
}

interface Restarting {
  action: 'start' | 'restart'
  timeline: Timeline
  data: RecoveryData
  fail: (finding: Omit<Finding, 'subject'>, extra?: Partial<RecoveryData>) => StepOutcome<RecoveryData>
}

/** Starts or restarts the service, waits for its readiness, once more if need be, and alerts either way. */
async function restart(
  service: ServiceConfig,
  context: RecoverContext,
  run: StepRun,
  { action, timeline, data, fail }: Restarting,
): Promise<StepOutcome<RecoveryData>> {
  const { config, runtimes } = context
  const name = service.name
  const actionStarted = performance.now()
  timeline.add(action, `${action} through ${service.runtime}`)
  // A restart through the process runtime is a stop and a start: never cut in between.
  const bound = { boundMs: 2 * service.stopGraceSeconds * 1000 + 60_000 }
  await run.critical(`the ${action} of ${name}`, () => runtimes[action](service), bound)
  let ready = await waitUntilReady(service, config, runtimes, { signal: run.signal })
  let attempts = 1
  if (!ready.ready && !run.signal.aborted) {
    timeline.add('retry', `not ready (${ready.detail}); stop and start once more`)
    await run.critical(
      `the restart of ${name}`,
      async () => {
        await runtimes.stop(service)
        await runtimes.start(service)
      },
      bound,
    )
    attempts = 2
    ready = await waitUntilReady(service, config, runtimes, { signal: run.signal })
  }
  const readyAfterMs = Math.round(performance.now() - actionStarted)
  if (ready.ready) {
    context.state.outcomes.set(name, 'recovered')
    timeline.add('ready', ready.detail)
    await syncAlerts(
      config,
      [
        { alertname: 'RecoveryFailed', severity: 'critical', labels: { service: name }, summary: `${name} recovered`, firing: false },
        { alertname: 'ServiceDown', severity: 'critical', labels: { service: name }, summary: `${name} recovered`, firing: false },
      ],
      run.recordAlert,
    )
    return {
      summary: `${action === 'start' ? 'started' : 'restarted'}; ready after ${formatSeconds(readyAfterMs)}${attempts > 1 ? ' (on the second attempt)' : ''}`,
      findings:
        attempts > 1
          ? [
              {
                id: `second-start-needed:${name}`,
                severity: 'medium',
                subject: name,
                message: `${name} needed a second start`,
                fix: 'read its logs for why the first failed',
              },
            ]
          : [],
      data: { ...data, action, attempts, readyAfterMs },
    }
  }
  const tail = await logTail(service, runtimes)
  const after = await runtimes.status(service).catch(() => undefined)
  const runtimeError =
    service.runtime === 'docker'
      ? await runtimes
          .container(service)
          .then((c) => c.state.error ?? (c.state.state !== 'running' ? `${c.state.state}, exit code ${c.state.exitCode}` : undefined))
          .catch(() => undefined)
      : undefined
  await syncAlerts(
    config,
    [
      {
        alertname: 'RecoveryFailed',
        severity: 'critical',
        labels: { service: name },
        summary: `probe-ops could not recover ${name}: ${ready.detail}`,
        firing: true,
      },
    ],
    run.recordAlert,
  )
  return fail(
    {
      id: `recovery-failed:${name}`,
      severity: 'critical',
      message: `${name} not ready after ${attempts} attempts: ${ready.detail}${runtimeError ? `; runtime: ${runtimeError}` : ''}`,
      fix: `read its log tail in the report (probe-ops recover ${name} --json), fix the cause, then recover again`,
    },
    { action, attempts, state: after?.state, runtimeError, logTail: tail },
  )
}

export function recoveryStep(service: ServiceConfig): StepDefinition<RecoverContext, RecoveryData> {
  return {
    // Two attempts, each a stop grace and a readiness wait, and room for the runtime's own calls.
    timeoutMs: 2 * (service.readinessTimeoutMs + service.stopGraceSeconds * 1000) + 30_000,
    run: (context, run) => recover(service, context, run),
  }
}
