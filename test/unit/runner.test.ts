import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jobDescription } from '../../src/cli/job-command.js'
import { loadConfig, type Config } from '../../src/config/load.js'
import { Interruption, StepFailure, UsageError } from '../../src/errors.js'
import { runSpec } from '../../src/jobs/run.js'
import { checkStepChoice, defineJob, stepHelp } from '../../src/jobs/spec.js'
import { deepFreeze } from '../../src/lib/freeze.js'
import { sleep } from '../../src/lib/time.js'
import { exitCodeFor } from '../../src/report/model.js'
import type { StepDefinition } from '../../src/report/outcome.js'
import { runJob, startJob, type Job, type JobStep } from '../../src/report/runner.js'
import { SystemError } from '../../src/systems/errors.js'
import { tempDir } from '../helpers/temp.js'

const options = { version: '0.0.0', host: 'test' }

/** A step written out here, id and title beside its implementation. */
type InlineStep<C> = { id: string; title: string } & StepDefinition<C, unknown>

/** The runner's step for one written out here: loaded when it runs, as a spec's step is. */
function inlined<C>({ id, title, ...definition }: InlineStep<C>): JobStep<C> {
  return { id, title, load: async () => definition }
}

function inline<C>(steps: InlineStep<C>[]): JobStep<C>[] {
  return steps.map(inlined)
}

function job(concurrent: boolean): Job<{ log: string[] }> {
  return {
    command: 'test job',
    concurrent,
    steps: inline([
      { id: 'first', title: 'First', run: async (c) => (c.log.push('first'), { summary: 'fine' }) },
      {
        id: 'warns',
        title: 'Warns',
        run: async (c) => (c.log.push('warns'), { summary: 'look', findings: [{ id: 'odd', severity: 'medium', message: 'odd', fix: 'check' }] }),
      },
      {
        id: 'fails',
        title: 'Fails',
        run: async (c) => {
          c.log.push('fails')
          throw new StepFailure('broken', 'fix it', { n: 1 })
        },
      },
      {
        id: 'hangs',
        title: 'Hangs',
        timeoutMs: 100,
        run: async (_c, run) => {
          await new Promise((r) => run.signal.addEventListener('abort', r))
          return { summary: 'never' }
        },
      },
      { id: 'last', title: 'Last', run: async (c) => (c.log.push('last'), { summary: 'done' }) },
    ]),
  }
}

describe('job runner', () => {
  it('runs every step even after one fails, and reports each', async () => {
    const context = { log: [] as string[] }
    const report = await runJob(job(false), context, options)
    expect(context.log).toEqual(['first', 'warns', 'fails', 'last'])
    expect(report.steps.map((s) => s.status)).toEqual(['ok', 'warning', 'failed', 'failed', 'ok'])
    expect(report.status).toBe('failed')
    expect(report.steps[2]).toMatchObject({ summary: 'broken', error: { message: 'broken', hint: 'fix it' }, data: { n: 1 } })
    expect(report.steps[3]!.summary).toBe('timed out after 100 ms')
    expect(report.schemaVersion).toBe(1)
    expect(exitCodeFor(report)).toBe(1)
  })

  it('maps warnings to exit 0, or 1 with --fail-on warning', async () => {
    const report = await runJob(job(true), { log: [] }, { ...options, only: ['first', 'warns'] })
    expect(report.status).toBe('warning')
    expect(report.steps.filter((s) => s.status === 'skipped').map((s) => s.id)).toEqual(['fails', 'hangs', 'last'])
    expect(exitCodeFor(report, 'failed')).toBe(0)
    expect(exitCodeFor(report, 'warning')).toBe(1)
  })

  it('rejects an unknown step id with the list of known ones', async () => {
    await expect(runJob(job(true), { log: [] }, { ...options, skip: ['nope'] })).rejects.toThrow(UsageError)
    await expect(runJob(job(true), { log: [] }, { ...options, skip: ['nope'] })).rejects.toThrow(/unknown step "nope"/)
  })

  it('bounds the whole job with its timeout', async () => {
    const slow: Job<object> = {
      command: 'slow',
      concurrent: false,
      steps: inline([
        { id: 'a', title: 'A', run: async () => (await sleep(150), { summary: 'ok' }) },
        { id: 'b', title: 'B', run: async (_c, run) => (await new Promise((r) => run.signal.addEventListener('abort', r)), { summary: 'x' }) },
        { id: 'c', title: 'C', run: async () => ({ summary: 'never runs' }) },
      ]),
    }
    const report = await runJob(slow, {}, { ...options, timeoutMs: 300 })
    expect(report.steps.map((s) => s.status)).toEqual(['ok', 'failed', 'failed'])
    expect(report.steps[1]!.error?.hint).toMatch(/--timeout/)
    expect(report.steps[2]!.summary).toMatch(/not started/)
  })
})

describe('a job whose steps build on each other', () => {
  it('skips the rest after a failure', async () => {
    const report = await runJob({ ...job(false), stopOnFailure: true }, { log: [] }, options)
    expect(report.steps.map((s) => s.status)).toEqual(['ok', 'warning', 'failed', 'skipped', 'skipped'])
    expect(report.steps[3]!.summary).toBe('not run: fails failed')
  })
})

describe('steps that run together inside a one-after-another job', () => {
  function together(failing: boolean): Job<{ log: string[] }> {
    return {
      command: 'together',
      concurrent: false,
      stopOnFailure: true,
      together: [['dump', 'load']],
      steps: inline([
        { id: 'check', title: 'Check', run: async (c) => (c.log.push('check'), { summary: 'fine' }) },
        {
          id: 'dump',
          title: 'Dump',
          run: async (c, run) => {
            c.log.push('dump started')
            await new Promise((resolve) => run.signal.addEventListener('abort', resolve))
            c.log.push('dump cleaned up')
            throw new Error('killed')
          },
        },
        {
          id: 'load',
          title: 'Load',
          run: async (c) => {
            c.log.push('load started')
            if (failing) throw new StepFailure('no such role')
            return { summary: 'loaded' }
          },
        },
        { id: 'swap', title: 'Swap', run: async (c) => (c.log.push('swap'), { summary: 'swapped' }) },
      ]),
    }
  }

  it('starts them at once; a failure stops the others, which clean up and say why', async () => {
    const context = { log: [] as string[] }
    const report = await runJob(together(true), context, options)
    expect(context.log).toEqual(['check', 'dump started', 'load started', 'dump cleaned up'])
    expect(report.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['check', 'ok', 'fine'],
      ['dump', 'failed', 'stopped: load failed'],
      ['load', 'failed', 'no such role'],
      ['swap', 'skipped', 'not run: load failed'],
    ])
  })

  it('waits for all of them before the next step', async () => {
    const job = together(false)
    job.steps[1] = inlined({
      id: 'dump',
      title: 'Dump',
      run: async (c: { log: string[] }) => (await sleep(50), c.log.push('dump done'), { summary: 'dumped' }),
    })
    const context = { log: [] as string[] }
    const report = await runJob(job, context, options)
    expect(context.log).toEqual(['check', 'load started', 'dump done', 'swap'])
    expect(report.status).toBe('ok')
  })

  it('runs a skipped member as skipped and the rest as usual', async () => {
    const context = { log: [] as string[] }
    const report = await runJob(together(false), context, { ...options, skip: ['dump'] })
    expect(report.steps.map((s) => s.status)).toEqual(['ok', 'skipped', 'ok', 'ok'])
  })
})

describe('undoing finished steps when a later one fails', () => {
  it('undoes, latest first, what finished steps made, and says so in their results', async () => {
    const undone: string[] = []
    const job: Job<object> = {
      command: 'undo',
      concurrent: false,
      stopOnFailure: true,
      together: [['dump', 'load']],
      steps: inline([
        { id: 'check', title: 'Check', run: async () => ({ summary: 'fine' }), undo: async () => (undone.push('check'), undefined) },
        { id: 'dump', title: 'Dump', run: async () => (await sleep(30), Promise.reject(new StepFailure('disk full'))) },
        { id: 'load', title: 'Load', run: async () => ({ summary: 'loaded into copy' }), undo: async () => (undone.push('load'), 'dropped copy') },
        { id: 'swap', title: 'Swap', run: async () => ({ summary: 'swapped' }), undo: async () => (undone.push('swap'), 'never') },
      ]),
    }
    const report = await runJob(job, {}, options)
    expect(undone).toEqual(['load', 'check'])
    expect(report.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['check', 'ok', 'fine'],
      ['dump', 'failed', 'disk full'],
      ['load', 'ok', 'loaded into copy; undone as dump failed: dropped copy'],
      ['swap', 'skipped', 'not run: dump failed'],
    ])
    expect(report.steps[2]!.undone).toBe('dropped copy')
    expect(report.steps[2]!.data).toBeUndefined()
  })

  it('gives a timed-out step the time it asks for to clean up, and no more', async () => {
    const log: string[] = []
    const job: Job<object> = {
      command: 'cleanup',
      concurrent: false,
      steps: inline([
        {
          id: 'restore',
          title: 'Restore',
          timeoutMs: 50,
          cleanupMs: 5_000,
          run: async (_c, run) => {
            await new Promise((resolve) => run.signal.addEventListener('abort', resolve))
            await sleep(100)
            log.push('dropped the half-made copy')
            throw new Error('aborted')
          },
        },
        { id: 'reads', title: 'Reads', timeoutMs: 50, run: async () => (await sleep(10_000), { summary: 'never' }) },
      ]),
    }
    const report = await runJob(job, {}, options)
    expect(log).toEqual(['dropped the half-made copy'])
    expect(report.steps.map((s) => s.summary)).toEqual(['timed out after 50 ms', 'timed out after 50 ms'])
  })
})

describe('interrupts, and phases that must not be cut', () => {
  /** A step whose critical phase waits for `release`; the log says what ran. */
  function swapJob(log: string[], release: Promise<void>): Job<object> {
    return {
      command: 'restore',
      concurrent: false,
      stopOnFailure: true,
      steps: inline([
        // As a restore's copy: once swapped in, it is no longer there to drop.
        {
          id: 'copy',
          title: 'Copy',
          run: async () => ({ summary: 'copied' }),
          undo: async () => (log.includes('swapped, services started') ? undefined : (log.push('dropped copy'), 'dropped the copy')),
        },
        {
          id: 'swap',
          title: 'Swap',
          run: async (_c, run) => {
            log.push('services stopped')
            await run.critical('the swap', async () => {
              await release
              log.push('swapped, services started')
            })
            return { summary: 'swapped' }
          },
        },
        { id: 'after', title: 'After', run: async () => (log.push('after'), { summary: 'ran' }) },
      ]),
    }
  }

  it('lets a critical phase finish when the job is interrupted, then runs nothing more and says so', async () => {
    const log: string[] = []
    let release!: () => void
    const interrupt = new AbortController()
    const waits: string[] = []
    const running = startJob(
      swapJob(log, new Promise((r) => (release = r))),
      {},
      {
        ...options,
        interrupt: interrupt.signal,
        onStepStart: (s) => s.id === 'swap' && setTimeout(() => interrupt.abort(new Interruption('SIGINT')), 20),
        onCriticalWait: (w) => (waits.push(`${w.cause} during ${w.phase}`), setTimeout(release, 20)),
      },
    )
    const report = await running.report
    expect(log).toEqual(['services stopped', 'swapped, services started'])
    expect(waits).toEqual(['SIGINT came during the swap'])
    expect(report.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['copy', 'ok', 'copied'],
      ['swap', 'ok', 'swapped (SIGINT came during the swap, which was let end first)'],
      ['after', 'skipped', 'not run: interrupted by SIGINT'],
    ])
    expect(report.interrupted).toMatchObject({ by: 'SIGINT' })
    expect(report.status).toBe('failed')
    expect(exitCodeFor(report)).toBe(1)
  })

  it('stops a step outside its critical phase, and undoes what finished steps made', async () => {
    const log: string[] = []
    const interrupt = new AbortController()
    const job = swapJob(log, new Promise(() => undefined))
    job.steps[1] = inlined({
      id: 'swap',
      title: 'Swap',
      cleanupMs: 5_000,
      run: async (_c, run) => {
        await new Promise((resolve) => run.signal.addEventListener('abort', resolve))
        await sleep(20)
        log.push('cleaned up')
        // Told to stop, it does not begin what must not be cut.
        return run.critical('the swap', async () => ({ summary: 'never' }))
      },
    })
    const report = await runJob(
      job,
      {},
      { ...options, interrupt: interrupt.signal, onStepStart: (s) => s.id === 'swap' && setTimeout(() => interrupt.abort(new Interruption('SIGTERM')), 10) },
    )
    expect(log).toEqual(['cleaned up', 'dropped copy'])
    expect(report.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['copy', 'ok', 'copied; undone as swap failed: dropped the copy'],
      ['swap', 'failed', 'interrupted by SIGTERM'],
      ['after', 'skipped', 'not run: swap failed'],
    ])
    expect(report.interrupted).toMatchObject({ by: 'SIGTERM' })
  })

  it('waits for a critical phase past the --timeout, and ends only when the step has', async () => {
    const log: string[] = []
    let release!: () => void
    const running = startJob(swapJob(log, new Promise((r) => (release = r))), {}, { ...options, timeoutMs: 50, onCriticalWait: () => setTimeout(release, 100) })
    let ended = false
    void running.ended.then(() => (ended = true))
    const report = await running.report
    expect(report.steps[1]!.summary).toBe("swapped (the job's --timeout of 50 ms ran out during the swap, which was let end first)")
    expect(report.steps[2]).toMatchObject({ status: 'failed', summary: 'not started: the job ran out of time' })
    expect(report.interrupted).toMatchObject({ by: 'timeout' })
    await running.ended
    expect(ended).toBe(true)
  })

  it('knows when a step given up on has really ended, and reports the run as it stands', async () => {
    let finish!: () => void
    const job: Job<object> = {
      command: 'stubborn',
      concurrent: false,
      steps: inline([
        { id: 'first', title: 'First', run: async () => ({ summary: 'done' }) },
        { id: 'deaf', title: 'Deaf', timeoutMs: 20, run: () => new Promise((resolve) => (finish = () => resolve({ summary: 'late' }))) },
        { id: 'last', title: 'Last', run: async () => ({ summary: 'done' }) },
      ]),
    }
    const running = startJob(job, {}, options)
    await sleep(5)
    const now = running.reportNow({ running: 'exited while it ran', notRun: 'not run: exited' })
    expect(now.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['first', 'ok', 'done'],
      ['deaf', 'failed', 'exited while it ran'],
      ['last', 'skipped', 'not run: exited'],
    ])
    const report = await running.report
    expect(report.steps[1]!.summary).toBe('timed out after 20 ms')
    let ended = false
    void running.ended.then(() => (ended = true))
    await sleep(20)
    expect(ended).toBe(false)
    finish()
    await running.ended
  })
})

describe("a job's spec", () => {
  interface Ctx {
    loaded: string[]
    limitMs: number
  }
  const definition = (run: StepDefinition<Ctx, unknown>['run'], more: Partial<StepDefinition<Ctx, unknown>> = {}): StepDefinition<Ctx, unknown> => ({
    run,
    ...more,
  })
  const spec = defineJob({
    id: 'test-job',
    command: 'test job',
    order: 'sequential',
    steps: [
      {
        id: 'scan',
        title: 'Scan',
        summary: 'look at every port',
        load: async () =>
          definition(
            async (c) => (c.loaded.push('scan'), { summary: 'scanned', findings: [{ id: 'open-port:6379', severity: 'medium', message: 'redis open' }] }),
          ),
      },
      {
        id: 'connect',
        title: 'Connect',
        summary: 'reach PostgreSQL',
        load: async () =>
          definition(
            async (c) => {
              c.loaded.push('connect')
              throw new SystemError('postgres', 'refused', 'PostgreSQL at 127.0.0.1:5432 refused the connection')
            },
            { hints: { 'postgres.refused': 'the step knows best: start PostgreSQL' } },
          ),
      },
      {
        id: 'wait',
        title: 'Wait',
        summary: 'hang until told',
        load: async () =>
          definition(
            async (c, run) => {
              c.loaded.push('wait')
              await new Promise((resolve) => run.signal.addEventListener('abort', resolve))
              return { summary: 'never' }
            },
            { timeoutMs: (c: Ctx) => c.limitMs },
          ),
      },
      { id: 'broken', title: 'Broken', summary: 'a module that cannot load', load: () => Promise.reject(new Error('Cannot find module ./broken.js')) },
    ],
    context: (_config, options: { limitMs: number }): Ctx => ({ loaded: [], limitMs: options.limitMs }),
  })
  const config = {} as Config

  it('loads each step when it runs, derives statuses from findings and hints from the step or the default table', async () => {
    const report = await runSpec(spec, config, { limitMs: 30 }, { toolVersion: '0.0.0', host: 'test' })
    expect(report.steps.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['scan', 'warning', 'scanned'],
      ['connect', 'failed', 'PostgreSQL at 127.0.0.1:5432 refused the connection'],
      ['wait', 'failed', 'timed out after 30 ms'],
      ['broken', 'failed', 'Cannot find module ./broken.js'],
    ])
    expect(report.steps[0]).toMatchObject({ findings: [{ id: 'open-port:6379' }], error: { message: 'redis open' } })
    expect(report.steps[1]!.error).toEqual({ message: 'PostgreSQL at 127.0.0.1:5432 refused the connection', hint: 'the step knows best: start PostgreSQL' })
  })

  it('loads no step that does not run', async () => {
    let loads = 0
    const counted = defineJob({
      ...spec,
      steps: spec.steps.map((step) => ({ ...step, load: () => (loads++, step.load()) })),
    })
    const report = await runSpec(counted, config, { limitMs: 30 }, { toolVersion: '0.0.0', only: ['scan'] })
    expect(loads).toBe(1)
    expect(report.steps.map((s) => s.status)).toEqual(['warning', 'skipped', 'skipped', 'skipped'])
  })

  it('lists its steps for --help, ids padded, and checks --only/--skip against them', () => {
    expect(stepHelp(spec)).toBe('  scan     look at every port\n  connect  reach PostgreSQL\n  wait     hang until told\n  broken   a module that cannot load')
    expect(jobDescription(spec, { intro: 'Tests the runner.', outro: 'Nothing else.' })).toBe(
      `Tests the runner.\n\nSteps, in order (each can be chosen with --only/--skip):\n${stepHelp(spec)}\n\nNothing else.`,
    )
    expect(() => checkStepChoice(spec, ['scan'], ['wait'])).not.toThrow()
    const unknown = (() => {
      try {
        checkStepChoice(spec, [], ['nope'])
      } catch (error) {
        return error as UsageError
      }
    })()
    expect(unknown).toBeInstanceOf(UsageError)
    expect(unknown).toMatchObject({ code: 'unknown-step', message: 'unknown step "nope" for test job', hint: 'steps are: scan, connect, wait, broken' })
    const dynamic = defineJob({ ...spec, steps: { describe: 'one step per service, named after it', list: () => spec.steps } })
    expect(stepHelp(dynamic)).toBe('  one step per service, named after it')
    expect(() => checkStepChoice(dynamic, ['anything'], [])).not.toThrow()
  })

  it('hands steps a configuration frozen all the way down: a step that changes it fails', () => {
    const dir = tempDir('po-frozen')
    writeFileSync(join(dir, 'probe-ops.yaml'), 'host: frozen\ncertificates: { warningDays: 30 }\n')
    const frozen = deepFreeze(loadConfig(join(dir, 'probe-ops.yaml'), {}))
    expect(() => {
      ;(frozen.certificates as { warningDays: number }).warningDays = 1
    }).toThrow(TypeError)
    expect(() => (frozen.certificates.endpoints as unknown[]).push('x')).toThrow(TypeError)
    expect(frozen.certificates.warningDays).toBe(30)
  })
})
