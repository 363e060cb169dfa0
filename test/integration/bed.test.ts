/** Smoke test of the integration test bed: every service it starts really works. */
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Docker from 'dockerode'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  bed,
  composeLabels,
  dockerCli,
  pausePostgres,
  pgClientConfig,
  pgQuery,
  resumePostgres,
  runPostgresContainer,
  runSleeperContainer,
  startHangingServer,
  startRefusedPort,
  uniqueName,
} from '../bed/index.js'

const info = bed()

describe('test bed', () => {
  it('postgres answers SELECT 1 with the password, in network_probe, with pg_stat_statements loaded', async () => {
    const client = new pg.Client(pgClientConfig(info.postgres))
    await client.connect()
    try {
      const r = await client.query<{ one: number; db: string; libs: string }>(
        "SELECT 1 AS one, current_database() AS db, current_setting('shared_preload_libraries') AS libs",
      )
      expect(r.rows[0]).toEqual({ one: 1, db: 'network_probe', libs: 'pg_stat_statements' })
    } finally {
      await client.end()
    }
  })

  it('postgres refuses a wrong password', async () => {
    await expect(pgQuery({ ...pgClientConfig(info.postgres), password: 'wrong' }, 'SELECT 1')).rejects.toThrow(/password authentication failed/)
  })

  it('postgres can be paused (new connections hang) and resumed', async () => {
    pausePostgres(info.postgres)
    try {
      const t0 = Date.now()
      await expect(pgQuery({ ...pgClientConfig(info.postgres), connectionTimeoutMillis: 500 }, 'SELECT 1')).rejects.toThrow(/timeout/i)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450)
    } finally {
      resumePostgres(info.postgres)
    }
    const r = await pgQuery(pgClientConfig(info.postgres), 'SELECT 1 AS one')
    expect(r.rows[0]).toEqual({ one: 1 })
  })

  it('redis answers PING with the password and refuses without it', async () => {
    expect(info.redis.password).toBeTruthy()
    const redis = new Redis(info.redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 })
    try {
      await redis.connect()
      expect(await redis.ping()).toBe('PONG')
    } finally {
      redis.disconnect()
    }
    const anon = new Redis({
      host: info.redis.host,
      port: info.redis.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false, // the ready check (INFO) would fail first and close the connection
      retryStrategy: () => null,
    })
    anon.on('error', () => undefined)
    try {
      await anon.connect()
      await expect(anon.ping()).rejects.toThrow(/NOAUTH/)
    } finally {
      anon.disconnect()
    }
  })

  it('alertmanager answers GET /api/v2/status', async () => {
    const res = await fetch(`${info.alertmanager.url}/api/v2/status`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { cluster: { status: string }; config: { original: string } }
    expect(body.cluster.status).toBe('disabled')
    expect(body.config.original).toContain('null')
  })

  describe('docker engine', () => {
    const docker = new Docker({ socketPath: info.docker.socketPath })
    const cleanup: Array<() => Promise<void>> = []
    afterAll(async () => {
      for (const c of cleanup) await c()
    })

    it('answers /_ping and lists containers through dockerode', async () => {
      const ping = await docker.ping()
      expect(ping.toString()).toBe('OK')
      expect(Array.isArray(await docker.listContainers({ all: true }))).toBe(true)
      const images = await docker.listImages()
      expect(images.some((i) => i.RepoTags?.includes(info.docker.image))).toBe(true)
    })

    it('runs a host binary as a container, with labels and logs', async () => {
      const name = uniqueName('sleeper')
      const c = await runSleeperContainer(info.docker, {
        name,
        logLines: ['INFO starting', 'ERROR boom "quoted" $HOME'],
        errorLines: ['WARN on stderr'],
        labels: composeLabels('network-probe', 'management'),
      })
      cleanup.push(c.remove)
      const container = docker.getContainer(c.id)
      const inspect = await container.inspect()
      expect(inspect.State.Running).toBe(true)
      expect(inspect.Config.Labels['com.docker.compose.service']).toBe('management')
      let logs = ''
      for (let i = 0; i < 50 && !logs.includes('WARN on stderr'); i++) {
        const r = await dockerCli(info.docker, ['logs', name])
        logs = `${r.stdout}\n${r.stderr}`
        if (!logs.includes('WARN on stderr')) await sleep(100)
      }
      expect(logs).toContain('ERROR boom "quoted" $HOME')
      expect(logs).toContain('WARN on stderr')
      // --init makes docker stop quick.
      await container.stop({ t: 10 })
    })

    it('runs postgres 15 in a container that answers SELECT 1 on its port and restarts', async () => {
      const name = uniqueName('pg')
      const c = await runPostgresContainer(info.docker, { name, labels: composeLabels('network-probe', 'postgres') })
      cleanup.push(c.remove)
      expect(c.info.port).not.toBe(info.postgres.port)
      const r = await pgQuery<{ one: number; db: string }>(pgClientConfig(c.info), 'SELECT 1 AS one, current_database() AS db')
      expect(r.rows[0]).toEqual({ one: 1, db: 'network_probe' })
      await docker.getContainer(name).restart({ t: 10 })
      let ok = false
      for (let i = 0; i < 100 && !ok; i++) {
        ok = await pgQuery(pgClientConfig(c.info), 'SELECT 1').then(
          () => true,
          () => false,
        )
        if (!ok) await sleep(100)
      }
      expect(ok).toBe(true)
    })
  })

  it('the hanging server accepts connections but never replies; the refused port refuses', async () => {
    const server = await startHangingServer()
    try {
      const socket = net.connect({ host: server.host, port: server.port })
      const received: Buffer[] = []
      socket.on('data', (c: Buffer) => received.push(c))
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve())
        socket.once('error', reject)
      })
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      await sleep(500)
      expect(received).toHaveLength(0)
      expect(server.accepted).toBe(1)
      expect(server.bytesReceived).toBeGreaterThan(0)
      await expect(fetch(server.url, { signal: AbortSignal.timeout(300) })).rejects.toThrow(/abort|timeout/i)
      socket.destroy()
    } finally {
      await server.close()
    }
    const port = await startRefusedPort()
    await expect(
      new Promise<void>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port })
        s.once('connect', () => {
          s.destroy()
          resolve()
        })
        s.once('error', reject)
      }),
    ).rejects.toThrow(/ECONNREFUSED/)
  })
})
