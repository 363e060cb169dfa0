import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import pg from 'pg'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../bed/process.js'
import { parseReport, runCli } from '../helpers/cli.js'

const ROOT = resolve(import.meta.dirname, '../..')

/** The built CLI knows the sandbox commands; build it when it does not (a fresh checkout). */
async function ensureBuilt(): Promise<void> {
  const manifest = join(ROOT, 'oclif.manifest.json')
  const built = existsSync(join(ROOT, 'dist/sandbox/fake-http.js')) && existsSync(join(ROOT, 'dist/commands/sandbox/up.js'))
  const listed = existsSync(manifest) && readFileSync(manifest, 'utf8').includes('"sandbox:up"')
  if (built && listed) return
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT })
  await execa('npx', ['oclif', 'manifest'], { cwd: ROOT })
}

interface StatusJson {
  status: string
  configFile?: string
  components: { name: string; running: boolean; pid?: number; port?: number }[]
}

/** Gone, or a zombie its new parent has yet to reap. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

async function waitGone(pids: number[], ms = 3000): Promise<number[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const left = pids.filter((pid) => !gone(pid))
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 50))
  }
}

function expectOneLineError(result: { stderr: string; stdout: string }, pattern: RegExp) {
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
}

describe('probe-ops sandbox', () => {
  let root: string
  let dir: string
  let configFile: string
  let pids: number[] = []

  beforeAll(async () => {
    await ensureBuilt()
    root = mkdtempSync(join(tmpdir(), 'po-sandbox-'))
    // Run as root, PostgreSQL runs as the postgres user, which must be able to enter the directory.
    chmodSync(root, 0o755)
    dir = join(root, 'sandbox')
    configFile = join(dir, 'probe-ops.yaml')
  }, 180_000)

  afterAll(async () => {
    if (dir && existsSync(join(dir, 'state.json'))) await runCli(['sandbox', 'down', '--dir', dir])
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('up starts a platform, writes a valid configuration and says what to run next', async () => {
    const up = await runCli(['sandbox', 'up', '--dir', dir])
    expect(up.exitCode, up.stderr).toBe(0)
    expect(up.stdout).toContain(`Sandbox running in ${dir}`)
    expect(up.stdout).toContain(`probe-ops diagnose --config ${configFile}`)

    const validate = await runCli(['config', 'validate', '--config', configFile])
    expect(validate.exitCode, validate.stderr).toBe(0)
    expect(validate.stdout).toMatch(/is valid: 4 services \(management\/process, web\/process, postgres\/process, redis\/process\)/)

    // Everything it points at lies inside the sandbox: no command run against it touches the host's files.
    const paths: string[] = []
    // Start commands name programs (pg_ctl, redis-server, node): their arguments are checked, not the programs.
    const collect = (value: unknown, key = ''): void => {
      if (typeof value === 'string' && value.startsWith('/')) paths.push(value)
      else if (Array.isArray(value) && key === 'start') value.filter((v, i) => i > 0 && typeof v === 'string' && v.startsWith(dir)).forEach((v) => collect(v))
      else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => collect(v, k))
    }
    collect(parse(readFileSync(configFile, 'utf8')))
    expect(paths.length).toBeGreaterThan(10)
    for (const path of paths) expect(path.startsWith(`${dir}/`) || path === dir, path).toBe(true)

    // Secrets are private files and never printed.
    for (const name of ['pgpassword', 'redispassword']) {
      const file = join(dir, 'secrets', name)
      expect(readFileSync(file, 'utf8').trim().length).toBeGreaterThan(20)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(up.stdout + up.stderr).not.toContain(readFileSync(file, 'utf8').trim())
    }
  })

  it('fills task_results with rows spanning the last 120 days', async () => {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { components: { postgres: { port: number } } }
    const client = new pg.Client({
      host: '127.0.0.1',
      port: state.components.postgres.port,
      user: 'postgres',
      database: 'network_probe',
      password: readFileSync(join(dir, 'secrets/pgpassword'), 'utf8').trim(),
    })
    await client.connect()
    try {
      const { rows } = await client.query<{ count: string; days: number; newest_age_s: number; tasks: string; agents: string; protocols: string }>(`
        select count(*) as count,
               (extract(epoch from max(execution_time) - min(execution_time)) / 86400)::float8 as days,
               extract(epoch from now() - max(execution_time))::float8 as newest_age_s,
               (select count(*) from tasks) as tasks,
               (select count(*) from agents) as agents,
               (select string_agg(distinct protocol, ',' order by protocol) from tasks) as protocols
          from task_results`)
      const row = rows[0]!
      expect(Number(row.count)).toBe(120 * 3000)
      expect(row.days).toBeGreaterThan(119.9)
      expect(row.days).toBeLessThanOrEqual(120)
      expect(row.newest_age_s).toBeLessThan(600)
      expect(Number(row.tasks)).toBe(50)
      expect(Number(row.agents)).toBe(10)
      expect(row.protocols).toBe('dns,http,https,icmp,tcp,udp')
      const indexes = await client.query<{ indexdef: string }>(`select indexdef from pg_indexes where tablename = 'task_results'`)
      expect(indexes.rows.map((r) => r.indexdef).join('\n')).toMatch(/\(task_id, execution_time\)/)
      const extension = await client.query(`select 1 from pg_extension where extname = 'pg_stat_statements'`)
      expect(extension.rowCount).toBe(1)
    } finally {
      await client.end()
    }
  })

  it('diagnose against it: the platform comes out ok, quickly; only the agents the sandbox put in trouble are not', async () => {
    const result = await runCli(['diagnose', '--config', configFile, '--json'])
    const report = parseReport(result)
    const platform = report.steps.filter((s) => s.id !== 'agents' && s.id !== 'backups')
    for (const step of platform) expect(['ok', 'warning'], `${step.id}: ${step.summary}`).toContain(step.status)
    // A new sandbox has taken no backup yet: that is all the backups step may say.
    const backups = report.steps.find((s) => s.id === 'backups')
    expect(backups?.findings?.map((f) => f.id).sort(), backups?.summary).toEqual(['backup-missing:local:config', 'backup-missing:local:database'])
    // Its troubled agents (one down) fail the agents step once scraped; before the first scrape they are "no data".
    expect(['warning', 'failed']).toContain(report.steps.find((s) => s.id === 'agents')?.status)
    expect(report.steps.find((s) => s.id === 'services')?.summary).toBe('4 of 4 running')
  })

  it("runs the guide's monitoring: Prometheus (its rules loaded) scrapes the exporters and the generated agents, Loki has their logs", async () => {
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
      components: Record<string, { address: string }>
      agents: Array<{ id: string; state: string }>
    }
    const prometheus = state.components.prometheus!.address
    expect((parse(readFileSync(configFile, 'utf8')) as { prometheus: { url: string } }).prometheus.url).toBe(prometheus)
    expect(state.agents.map((a) => a.id)).toEqual(Array.from({ length: 10 }, (_, i) => `agent-${String(i + 1).padStart(3, '0')}`))
    const down = state.agents.filter((a) => a.state === 'down').map((a) => a.id)
    const healthOf = async () => {
      const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as {
        data: { activeTargets: Array<{ labels: Record<string, string>; health: string }> }
      }
      return body.data.activeTargets.map((t) => `${t.labels.job}${t.labels.agent_id ? `/${t.labels.agent_id}` : ''} ${t.health}`).sort()
    }
    let health: string[] = []
    await waitUntil('every target scraped', async () => (health = await healthOf()).every((t) => !t.endsWith('unknown')), {
      timeoutMs: 30_000,
      intervalMs: 500,
    })
    expect(health).toEqual(
      [
        ...state.agents.map((a) => `agents/${a.id} ${down.includes(a.id) ? 'down' : 'up'}`),
        'node-exporter up',
        'postgres-exporter up',
        'prometheus up',
        'redis-exporter up',
      ].sort(),
    )
    const rules = (await (await fetch(`${prometheus}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: unknown[] }> } }
    expect(rules.data.groups.flatMap((g) => g.rules)).toHaveLength(10)
    const loki = state.components.loki!.address
    expect((parse(readFileSync(configFile, 'utf8')) as { loki: { url: string } }).loki.url).toBe(loki)
    await waitUntil(
      "the agents' logs in Loki",
      async () => {
        const query = new URLSearchParams({ query: '{job="agents", level="ERROR"}', limit: '10' })
        const body = (await (await fetch(`${loki}/loki/api/v1/query_range?${query.toString()}`)).json()) as { data?: { result: unknown[] } }
        return (body.data?.result.length ?? 0) > 0
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    // probe-ops agents sees each troubled agent the sandbox made, and the agents table beside Prometheus. A window
    // of several scrapes: on a loaded host a 10 s one may hold a single heartbeat sample, and a healthy agent read as stale.
    // Growth needs two scrapes of each agent: until then an agent is 'no-data', so the verdicts settle within a few intervals.
    const expected = new Map(state.agents.filter((a) => a.state !== 'healthy').map((a) => [a.id, a.state.startsWith('overloaded') ? 'overloaded' : a.state]))
    let fleet: { sources: object; agents: Array<{ id: string; verdict: string }> } | undefined
    const verdictsOf = () => new Map(fleet!.agents.map((a) => [a.id, a.verdict]))
    await waitUntil(
      'the verdicts of the troubled agents',
      async () => {
        const agents = parseReport(await runCli(['agents', '--config', configFile, '--json', '--window', '30s']))
        fleet = agents.steps.find((s) => s.id === 'fleet')!.data as typeof fleet
        const verdicts = verdictsOf()
        return [...expected].every(([id, verdict]) => verdicts.get(id) === verdict)
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    ).catch(() => undefined)
    expect(fleet!.sources).toMatchObject({ prometheus: { read: true }, database: { read: true } })
    const verdicts = verdictsOf()
    for (const [id, verdict] of expected) expect(verdicts.get(id), id).toBe(verdict)
  })

  it('up again changes nothing, and status shows every component running', async () => {
    const before = readFileSync(join(dir, 'state.json'), 'utf8')
    const again = await runCli(['sandbox', 'up', '--dir', dir])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stdout).toContain('already running')
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(before)

    const text = await runCli(['sandbox', 'status', '--dir', dir])
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/: running\n/)
    const status = await runCli(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode, status.stderr).toBe(0)
    const parsed = JSON.parse(status.stdout) as StatusJson
    expect(parsed.status).toBe('running')
    expect(parsed.configFile).toBe(configFile)
    expect(parsed.components.map((c) => c.name).sort()).toEqual([
      'agents',
      'alertmanager',
      'loki',
      'management',
      'node-exporter',
      'postgres',
      'postgres-exporter',
      'prometheus',
      'redis',
      'redis-exporter',
      'web',
    ])
    for (const c of parsed.components) {
      expect(c.running, c.name).toBe(true)
      expect(c.port).toBeGreaterThan(0)
    }
    pids = parsed.components.map((c) => c.pid!)
  })

  it('up on a half-running sandbox stops the rest and fails with the reason', async () => {
    const redisPid = Number(readFileSync(join(dir, 'run/redis.pid'), 'utf8'))
    process.kill(redisPid, 'SIGTERM')
    expect(await waitGone([redisPid], 10_000)).toEqual([])

    const status = await runCli(['sandbox', 'status', '--dir', dir, '--json'])
    expect(status.exitCode).toBe(1)
    expect((JSON.parse(status.stdout) as StatusJson).status).toBe('partial')

    const up = await runCli(['sandbox', 'up', '--dir', dir])
    expect(up.exitCode).toBe(1)
    expectOneLineError(up, /the sandbox in .* was only half up \(redis not running\)/)
    expect(await waitGone(pids)).toEqual([])
  })

  it('down stops everything and removes the directory; down again is fine', async () => {
    // Bring it back first so that down has something to stop.
    const up = await runCli(['sandbox', 'up', '--dir', dir])
    expect(up.exitCode, up.stderr).toBe(0)
    const status = JSON.parse((await runCli(['sandbox', 'status', '--dir', dir, '--json'])).stdout) as StatusJson
    pids = status.components.map((c) => c.pid!)
    expect(pids.every((pid) => !gone(pid))).toBe(true)

    const down = await runCli(['sandbox', 'down', '--dir', dir])
    expect(down.exitCode, down.stderr).toBe(0)
    expect(down.stdout).toMatch(/Stopped .*postgres.*; removed/)
    expect(existsSync(dir)).toBe(false)
    expect(await waitGone(pids)).toEqual([])

    const again = await runCli(['sandbox', 'down', '--dir', dir])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stdout).toContain('nothing to stop')
  })

  it('refuses a --dir that is a file or a --loki that is not Loki, and will not remove a folder it did not make', async () => {
    const file = join(root, 'a-file')
    writeFileSync(file, 'not a directory\n')
    const up = await runCli(['sandbox', 'up', '--dir', file])
    expect(up.exitCode).toBe(2)
    expectOneLineError(up, /--dir .*a-file is a file, not a directory/)

    const notLoki = await runCli(['sandbox', 'up', '--dir', join(root, 'never'), '--loki', '/bin/true'])
    expect(notLoki.exitCode).toBe(2)
    expectOneLineError(notLoki, /--loki \/bin\/true: not Grafana Loki/)
    expect(existsSync(join(root, 'never'))).toBe(false)

    const foreign = join(root, 'photos')
    mkdirSync(foreign)
    writeFileSync(join(foreign, 'holiday.jpg'), 'x')
    const down = await runCli(['sandbox', 'down', '--dir', foreign])
    expect(down.exitCode).toBe(2)
    expectOneLineError(down, /holds no state\.json written by `probe-ops sandbox up`/)
    expect(existsSync(join(foreign, 'holiday.jpg'))).toBe(true)
  })
})
