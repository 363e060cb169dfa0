/** A throwaway redis-server (Debian's) on 127.0.0.1 at a free port, no persistence: the toolkit's, in a temp dir. */
import path from 'node:path'
import { startRedisServer } from '../../src/local-platform/redis.js'
import { freePort } from './ports.js'
import { serviceInTempDir, type BedService } from './process.js'

export { REDIS_SERVER, pingRedis as redisPing } from '../../src/local-platform/redis.js'

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

export type RedisServer = BedService<RedisInfo>

export interface StartRedisOptions {
  password?: string
  port?: number
  /** Redis 6 ACL users, each as redis.conf's `user` line says it: 'probe on >secret ~* +@all' (in the config file, never argv). */
  users?: string[]
}

export function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  return serviceInTempDir('redisbed-', [['SIGTERM', 5_000]], async (dir, started) => {
    const port = options.port ?? (await freePort())
    const logFile = path.join(dir, 'redis.log')
    const { password } = options
    const service = await startRedisServer({ port, dir, configFile: path.join(dir, 'redis.conf'), logFile, password, users: options.users, onStarted: started })
    const auth = password !== undefined ? `:${encodeURIComponent(password)}@` : ''
    const info: RedisInfo = {
      host: '127.0.0.1',
      port,
      ...(password !== undefined ? { password } : {}),
      url: `redis://${auth}127.0.0.1:${port}`,
      pid: service.pid,
      dir,
      logFile,
    }
    return { service, info }
  })
}
