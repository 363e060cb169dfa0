/**
 * The platform's concurrent writer for bench/maintain-daily.ts: a separate process (forked with
 * an IPC channel) that inserts one task result at a time into task_results with the current
 * timestamp, every `intervalMs` (closed loop: an insert that waits delays the next one, it is
 * never skipped), and records when each insert started and how long it took.
 *
 *   env WRITER_PG        JSON pg.ClientConfig of the database to write to
 *       WRITER_INTERVAL  ms between insert starts (default 10, ~100 inserts/s)
 *       WRITER_MAX_MS    hard bound on this process's life (default 30 min)
 *
 * IPC: sends {type: 'ready'} after the first insert; on 'stop' sends {type: 'samples', ...} and
 * exits. It also exits when the parent goes away or WRITER_MAX_MS passes.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

export interface WriterSamples {
  type: 'samples'
  /** Epoch ms (sub-ms precision) at which each insert was sent. */
  starts: number[]
  /** How long each insert took, ms. */
  latencies: number[]
  errors: number
  firstError?: string
}

const epochNow = (): number => performance.timeOrigin + performance.now()

async function main(): Promise<void> {
  const config = JSON.parse(process.env.WRITER_PG ?? 'null') as pg.ClientConfig | null
  if (!config || !process.send) throw new Error('writer: run me through child_process.fork with WRITER_PG set')
  const intervalMs = Number(process.env.WRITER_INTERVAL ?? 10)
  const maxMs = Number(process.env.WRITER_MAX_MS ?? 30 * 60_000)
  const client = new pg.Client({ ...config, application_name: 'bench-writer' })
  client.on('error', () => undefined)
  await client.connect()
  // Bounded: a writer stuck behind a lock for two minutes is a broken run, not a figure.
  await client.query('set statement_timeout = 120000')
  const ids = await client.query<{ tasks: number[]; agents: number[] }>(
    'select (select array_agg(id order by id) from tasks) as tasks, (select array_agg(id order by id) from agents) as agents',
  )
  const tasks = ids.rows[0]!.tasks
  const agents = ids.rows[0]!.agents

  const starts: number[] = []
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  let stopping = false
  let done: () => void = () => undefined
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  process.on('message', (m) => {
    if (m === 'stop') stopping = true
  })
  process.on('disconnect', () => {
    stopping = true
  })
  const deadline = Date.now() + maxMs

  void (async () => {
    let n = 0
    while (!stopping && Date.now() < deadline) {
      const t0 = epochNow()
      try {
        await client.query({
          name: 'insert-result',
          text: `insert into task_results (task_id, agent_id, execution_time, status, response_time_ms, result)
                 values ($1, $2, now(), 'success', $3, '{"connected": true}')`,
          values: [tasks[n % tasks.length], agents[Math.floor(n / tasks.length) % agents.length], 20 + (n % 200)],
        })
      } catch (error) {
        errors++
        const detail = (error as { detail?: string }).detail
        firstError ??= `${error instanceof Error ? error.message : String(error)}${detail ? ` (${detail.replaceAll('\n', ' ')})` : ''}`
      }
      const t1 = epochNow()
      starts.push(t0)
      latencies.push(t1 - t0)
      if (n === 0) process.send?.({ type: 'ready' })
      n++
      const wait = t0 + intervalMs - epochNow()
      if (wait > 0) await sleep(wait)
    }
    done()
  })()

  await finished
  await client.end().catch(() => undefined)
  const samples: WriterSamples = { type: 'samples', starts, latencies, errors, firstError }
  if (process.connected) {
    await new Promise<void>((resolve) => process.send!(samples, () => resolve()))
    process.disconnect()
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`writer: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
