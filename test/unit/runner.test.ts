import { describe, expect, it } from 'vitest'
import { Interruption, StepFailure, UsageError } from '../../src/errors.js'
import { exitCodeFor } from '../../src/report/model.js'
import { runJob, startJob, type Job } from '../../src/report/runner.js'
import { sleep } from '../../src/lib/time.js'

const options = { version: '0.0.0', host: 'test' }

function job(concurrent: boolean): Job<{ log: string[] }> {
  return {
    command: 'test job',
    concurrent,
    steps: [
      { id: 'first', title: 'First', run: async (c) => (c.log.push('first'), { summary: 'fine' }) },
      {
        id: 'warns',
        title: 'Warns',
        run: async (c) => (c.log.push('warns'), { status: 'warning', summary: 'look', error: { message: 'odd', hint: 'check' } }),
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
    ],
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
      steps: [
        { id: 'a', title: 'A', run: async () => (await sleep(150), { summary: 'ok' }) },
        { id: 'b', title: 'B', run: async (_c, run) => (await new Promise((r) => run.signal.addEventListener('abort', r)), { summary: 'x' }) },
        { id: 'c', title: 'C', run: async () => ({ summary: 'never runs' }) },
      ],
    }
    const report = await runJob(slow, {}, { ...options, timeoutMs: 300 })
    expect(report.steps.map((s) => s.status)).toEqual(['ok', 'failed', 'failed'])
    expect(report.steps[1]!.error?.hint).toMatch(/--timeout/)
    expect(report.steps[2]!.summary).toMatch(/not started/)
    expect(report.durationMs).toBeLessThan(2000)
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
      steps: [
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
      ],
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
    job.steps[1] = { id: 'dump', title: 'Dump', run: async (c) => (await sleep(50), c.log.push('dump done'), { summary: 'dumped' }) }
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
      steps: [
        { id: 'check', title: 'Check', run: async () => ({ summary: 'fine' }), undo: async () => (undone.push('check'), undefined) },
        { id: 'dump', title: 'Dump', run: async () => (await sleep(30), Promise.reject(new StepFailure('disk full'))) },
        { id: 'load', title: 'Load', run: async () => ({ summary: 'loaded into copy' }), undo: async () => (undone.push('load'), 'dropped copy') },
        { id: 'swap', title: 'Swap', run: async () => ({ summary: 'swapped' }), undo: async () => (undone.push('swap'), 'never') },
      ],
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
      steps: [
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
      ],
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
      steps: [
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
      ],
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
    job.steps[1] = {
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
    }
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
      steps: [
        { id: 'first', title: 'First', run: async () => ({ summary: 'done' }) },
        { id: 'deaf', title: 'Deaf', timeoutMs: 20, run: () => new Promise((resolve) => (finish = () => resolve({ summary: 'late' }))) },
        { id: 'last', title: 'Last', run: async () => ({ summary: 'done' }) },
      ],
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
