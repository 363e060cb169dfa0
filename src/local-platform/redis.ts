import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { startReadyService, type RunningService } from './services.js'

/** A throwaway redis-server (Debian's) on 127.0.0.1, its password in its config file (never argv). */

export const REDIS_SERVER = '/usr/bin/redis-server'

export interface RedisServerOptions {
  port: number
  /** Its working directory (dump.rdb goes here). */
  dir: string
  /** Written here, private (0600): it holds the password. */
  configFile: string
  logFile: string
  password?: string
  /** ACL users (Redis 6), each as a redis.conf `user` line says it: 'probe on >secret ~* +@all'. */
  users?: readonly string[]
  /** Snapshots to dump.rdb as a site would have them; none by default. */
  persist?: boolean
  /** Written by Redis itself, so that a restart by someone else (`probe-ops recover redis`) keeps it right. */
  pidFile?: string
  newSession?: boolean
  /** Runs as soon as it runs, before the wait for PING. */
  onStarted?: (service: RunningService) => void | Promise<void>
}

/** A string value for redis.conf. */
function redisString(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

export function redisConfig(options: Omit<RedisServerOptions, 'configFile' | 'logFile' | 'onStarted' | 'newSession'>): string {
  return [
    '# Redis on 127.0.0.1 for a local platform',
    'bind 127.0.0.1',
    `port ${options.port}`,
    'protected-mode yes',
    ...(options.password === undefined ? [] : [`requirepass ${redisString(options.password)}`]),
    ...(options.users ?? []).map((user) => `user ${user}`),
    `dir ${redisString(options.dir)}`,
    'dbfilename dump.rdb',
    options.persist ? 'save 3600 1 300 100 60 10000' : 'save ""',
    'appendonly no',
    'daemonize no',
    ...(options.pidFile ? [`pidfile ${redisString(options.pidFile)}`] : []),
    'supervised no',
    'logfile ""',
    'loglevel notice',
    'databases 16',
    '',
  ].join('\n')
}

export async function startRedisServer(options: RedisServerOptions): Promise<RunningService> {
  await writeFile(options.configFile, redisConfig(options), { mode: 0o600 })
  const { port, password } = options
  return startReadyService(
    { name: 'redis-server', command: REDIS_SERVER, args: [options.configFile], logFile: options.logFile, cwd: options.dir, newSession: options.newSession },
    { what: `redis on 127.0.0.1:${port} to answer PING`, probe: () => pingRedis('127.0.0.1', port, password), timeoutMs: 20_000, intervalMs: 50 },
    options.onStarted,
  )
}

function resp(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`
}

/** AUTH (when a password is given) and PING over a plain socket: true on +PONG. No client library to load. */
export function pingRedis(host: string, port: number, password?: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePing, reject) => {
    const socket = connect({ host, port })
    let received = ''
    const done = (error?: Error, answered?: boolean): void => {
      socket.destroy()
      if (error) reject(error)
      else resolvePing(answered ?? false)
    }
    socket.setTimeout(timeoutMs, () => done(new Error('redis PING timed out')))
    socket.once('error', (error) => done(error))
    socket.on('connect', () => {
      socket.write((password ? resp(['AUTH', password]) : '') + resp(['PING']))
    })
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8')
      if (received.includes('+PONG')) done(undefined, true)
      else if (received.startsWith('-')) done(new Error(`redis said: ${received.trim()}`))
    })
  })
}
