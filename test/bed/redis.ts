/** A throwaway redis-server (Debian's) on 127.0.0.1 at a free port, no persistence. */
import net from 'node:net'
import path from 'node:path'
import { freePort } from './ports.js'
import { makeTempDir, removeDir, spawnService, stopService, track, waitUntil } from './process.js'

export const REDIS_SERVER = '/usr/bin/redis-server'

export interface RedisInfo {
  host: string
  port: number
  /** Set when the server requires a password (requirepass). */
  password?: string
  /** redis://:password@127.0.0.1:port (no password part without one). */
  url: string
  pid: number
  dir: string
  logFile: string
}

export interface RedisServer {
  info: RedisInfo
  stop(): Promise<void>
}

export interface StartRedisOptions {
  password?: string
  port?: number
  /** Redis 6 ACL users, each as redis.conf's `user` line says it: 'probe on >secret ~* +@all'. */
  users?: string[]
}

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`
}

/** Send AUTH (when needed) + PING over a raw socket; true on +PONG. */
export function redisPing(host: string, port: number, password?: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let buf = ''
    const done = (err?: Error, ok?: boolean): void => {
      socket.destroy()
      if (err) reject(err)
      else resolve(ok ?? false)
    }
    socket.setTimeout(timeoutMs, () => done(new Error('redis PING timed out')))
    socket.once('error', (err) => done(err))
    socket.on('connect', () => {
      socket.write((password ? resp(['AUTH', password]) : '') + resp(['PING']))
    })
    socket.on('data', (chunk) => {
      buf += chunk.toString('utf8')
      if (buf.includes('+PONG')) done(undefined, true)
      else if (buf.startsWith('-')) done(new Error(`redis said: ${buf.trim()}`))
    })
  })
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await makeTempDir('redisbed-')
  const tracked = track({ dirs: [dir] })
  try {
    const port = opts.port ?? (await freePort())
    const logFile = path.join(dir, 'redis.log')
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--supervised',
      'no',
      '--logfile',
      '',
      '--loglevel',
      'notice',
      '--databases',
      '16',
    ]
    if (opts.password !== undefined) args.push('--requirepass', opts.password)
    for (const user of opts.users ?? []) args.push('--user', ...user.split(' '))
    const service = await spawnService({ name: 'redis-server', command: REDIS_SERVER, args, logFile, cwd: dir })
    tracked.entry.pids.push(service.pid)
    const stop = async (): Promise<void> => {
      await stopService(service, [['SIGTERM', 5_000]])
      await removeDir(dir)
      tracked.untrack()
    }
    try {
      await waitUntil(`redis on 127.0.0.1:${port} to answer PING`, () => redisPing('127.0.0.1', port, opts.password), {
        timeoutMs: 20_000,
        intervalMs: 50,
        service,
      })
    } catch (err) {
      await stop()
      throw err
    }
    const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : ''
    return {
      info: {
        host: '127.0.0.1',
        port,
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        url: `redis://${auth}127.0.0.1:${port}`,
        pid: service.pid,
        dir,
        logFile,
      },
      stop,
    }
  } catch (err) {
    await removeDir(dir)
    tracked.untrack()
    throw err
  }
}
