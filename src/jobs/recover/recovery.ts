import { existsSync } from 'node:fs'
import type { Config, ServiceConfig } from '../../config/load.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import type { Step, StepOutcome, StepRun } from '../../report/runner.js'
import { syncAlerts } from '../../systems/alert-sync.js'
import { isSystemError } from '../../systems/errors.js'
import { checkReadiness, notServing, waitUntilReady, type Readiness } from '../../systems/readiness.js'
import { summarizeLines } from '../../logs/errors.js'
import type { ServiceRuntimes, ServiceStatus } from '../../systems/services.js'
import { silenceService, liftSilences } from './silences.js'
import { Timeline } from './timeline.js'
import { hintOf } from '../hints.js'

export type Outcome = 'ready' | 'recovered' | 'failed'

export interface RecoverContext {
  config: Config
  runtimes: ServiceRuntimes
  /** The services --force applies to: those named, never the dependencies recovered for them. */
  forced: Set<string>
  /** What became of each service already handled: a dependent is not restarted after a failed dependency. */
  outcomes: Map<string, Outcome>
}

/** A container restarted this often and up for less than this long is crash-looping. */
const LOOP_RESTARTS = 3
const LOOP_UPTIME_S = 600
const LOOK_TIMEOUT_MS = 2000
const LOG_TAIL = 20

async function logTail(service: ServiceConfig, runtimes: ServiceRuntimes): Promise<string[]> {
  try {
    return (await runtimes.logs(service, 15 * 60_000)).slice(-LOG_TAIL).map((line) => line.text)
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

function describeState(status: ServiceStatus, ready: Readiness): string {
  const parts = [status.running ? (notServing(status, ready, LOOK_TIMEOUT_MS) ?? status.state) : status.state]
  if (status.health) parts.push(status.health)
  if (status.restarts) parts.push(`${status.restarts} restarts`)
  if (!status.running) parts.push(`not ready (${ready.detail})`)
  else if (ready.ready && !status.stoppedBySignal) parts.push('ready')
  return parts.join(', ')
}

async function recover(service: ServiceConfig, context: RecoverContext, run: StepRun): Promise<StepOutcome> {
  const { config, runtimes, outcomes } = context
  const force = context.forced.has(service.name)
  const timeline = new Timeline()
  const data: Record<string, unknown> = { service: service.name, runtime: service.runtime, timeline: timeline.entries }
  const fail = (message: string, hint: string, extra: Record<string, unknown> = {}): StepOutcome => {
    outcomes.set(service.name, 'failed')
    timeline.add('failed', message)
    return { status: 'failed', summary: message, data: { ...data, ...extra }, error: { message, hint } }
  }

  // Look first.
  let status: ServiceStatus
  try {
    status = await runtimes.status(service)
  } catch (error) {
    outcomes.set(service.name, 'failed')
    throw error
  }
  if (service.runtime === 'docker' && !status.found) {
    outcomes.set(service.name, 'failed')
    await runtimes.container(service)
  }
  const [before, recentErrors] = await Promise.all([
    checkReadiness(service, config, LOOK_TIMEOUT_MS, status),
    // Logs that could not be read are said so, never counted as no errors.
    status.found
      ? runtimes.logs(service, 15 * 60_000).then(
          (lines) => summarizeLines(lines).errors,
          () => undefined,
        )
      : Promise.resolve(0),
  ])
  data.before = { state: status.state, running: status.running, restarts: status.restarts, ready: before.ready, readiness: before.detail, recentErrors }
  timeline.add(
    'look',
    `${describeState(status, before)}; ${recentErrors === undefined ? 'its logs could not be read' : `${recentErrors} errors in its logs of the last 15 min`}`,
  )

  // "Running" says nothing of a container that restarts every few seconds.
  const looping =
    status.runtime === 'docker' &&
    (status.restarts ?? 0) >= LOOP_RESTARTS &&
    (status.uptimeSeconds ?? 0) < LOOP_UPTIME_S &&
    (!before.ready || service.readiness === 'running')
  if (looping && !force) {
    return fail(
      `${service.name} is in a crash loop (${status.restarts} restarts); not restarted again`,
      `read why in its logs, fix it, then: probe-ops recover ${service.name} --force`,
      { logTail: await logTail(service, runtimes) },
    )
  }
  if (before.ready && !force) {
    outcomes.set(service.name, 'ready')
    return { summary: `ready (${before.detail}); nothing changed`, data }
  }
  const failedDependencies = service.dependsOn.filter((d) => outcomes.get(d) === 'failed')
  if (failedDependencies.length > 0) {
    return fail(
      `not restarted: ${failedDependencies.join(', ')} could not be recovered`,
      `recover ${failedDependencies.join(', ')} first: probe-ops recover ${failedDependencies[0]}`,
    )
  }
  const missingData = await checkDataDir(service, runtimes)
  if (missingData)
    return fail(`${service.name} not restarted: ${missingData}`, 'restore the data directory (probe-ops restore), or fix services.postgres.dataDir')

  const action = status.running ? 'restart' : 'start'
  const waitS = Math.round(service.readinessTimeoutMs / 1000)
  if (run.dryRun) {
    timeline.add('plan', `would ${action} through ${service.runtime}, then wait up to ${waitS} s for readiness`)
    return {
      summary: `would ${action} ${service.name} (${before.ready ? 'forced' : 'not ready'}), then wait up to ${waitS} s for readiness`,
      data: { ...data, plan: action },
    }
  }

  const silences = await silenceService(config, service, 2 * service.readinessTimeoutMs + 10 * 60_000, timeline)
  try {
    const actionStarted = performance.now()
    timeline.add(action, `${action} through ${service.runtime}`)
    // A restart through the process runtime is a stop and a start: never cut in between.
    const bound = { boundMs: 2 * service.stopGraceSeconds * 1000 + 60_000 }
    await run.critical(`the ${action} of ${service.name}`, () => runtimes[action](service), bound)
    let ready = await waitUntilReady(service, config, runtimes, { signal: run.signal })
    let attempts = 1
    if (!ready.ready && !run.signal.aborted) {
      timeline.add('retry', `not ready (${ready.detail}); stop and start once more`)
      await run.critical(
        `the restart of ${service.name}`,
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
      outcomes.set(service.name, 'recovered')
      timeline.add('ready', ready.detail)
      await syncAlerts(
        config,
        [
          { alertname: 'RecoveryFailed', severity: 'critical', labels: { service: service.name }, summary: `${service.name} recovered`, firing: false },
          { alertname: 'ServiceDown', severity: 'critical', labels: { service: service.name }, summary: `${service.name} recovered`, firing: false },
        ],
        run.recordAlert,
      )
      return {
        status: attempts > 1 ? 'warning' : 'ok',
        summary: `${action === 'start' ? 'started' : 'restarted'}; ready after ${formatSeconds(readyAfterMs)}${attempts > 1 ? ' (on the second attempt)' : ''}`,
        data: { ...data, action, attempts, readyAfterMs },
        ...(attempts > 1 ? { error: { message: `${service.name} needed a second start`, hint: 'read its logs for why the first failed' } } : {}),
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
          labels: { service: service.name },
          summary: `probe-ops could not recover ${service.name}: ${ready.detail}`,
          firing: true,
        },
      ],
      run.recordAlert,
    )
    return fail(
      `${service.name} not ready after ${attempts} attempts: ${ready.detail}${runtimeError ? `; runtime: ${runtimeError}` : ''}`,
      `read its log tail in the report (probe-ops recover ${service.name} --json), fix the cause, then recover again`,
      { action, attempts, state: after?.state, runtimeError, logTail: tail },
    )
  } catch (error) {
    if (error instanceof StepFailure || isSystemError(error)) return fail(error.message, hintOf(error) ?? 'see the timeline')
    return fail(`${service.name}: ${describeError(error)}`, `check the ${service.runtime} runtime`)
  } finally {
    await liftSilences(config, silences, timeline)
  }
}

export function recoveryStep(service: ServiceConfig): Step<RecoverContext> {
  return {
    id: service.name,
    title: `Recover ${service.name}`,
    // Two attempts, each a stop grace and a readiness wait, and room for the runtime's own calls.
    timeoutMs: 2 * (service.readinessTimeoutMs + service.stopGraceSeconds * 1000) + 30_000,
    run: (context, run) => recover(service, context, run),
  }
}
