import type { Step } from '../../report/runner.js'
import { formatBytes } from '../../systems/host.js'
import { loadIoredis } from '../../systems/libraries.js'
import { closeRedis, connectRedis, redisFailure, redisInfo } from '../../systems/redis.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

export const redisStep: Step<DiagnoseContext> = {
  id: 'redis',
  title: 'Redis',
  async run({ config }) {
    const deadline = Date.now() + config.diagnose.checkTimeoutMs
    loadIoredis()
    const bound = Math.max(250, deadline - Date.now())
    const client = await connectRedis(config.redis, bound)
    try {
      const started = performance.now()
      await client.ping()
      const latencyMs = Math.round(performance.now() - started)
      const info = await redisInfo(client)
      const used = Number(info.used_memory ?? 0)
      const max = Number(info.maxmemory ?? 0)
      const figures = {
        latencyMs,
        version: info.redis_version,
        usedMemoryBytes: used,
        maxMemoryBytes: max,
        usedPercent: max > 0 ? Math.round((used / max) * 1000) / 10 : null,
        evictionPolicy: info.maxmemory_policy,
        connectedClients: Number(info.connected_clients ?? 0),
        evictedKeys: Number(info.evicted_keys ?? 0),
        rejectedConnections: Number(info.rejected_connections ?? 0),
        lastSaveStatus: info.rdb_last_bgsave_status,
        lastSaveAt: info.rdb_last_save_time ? new Date(Number(info.rdb_last_save_time) * 1000).toISOString() : undefined,
      }
      const problems: Problem[] = []
      if (figures.usedPercent !== null && figures.usedPercent >= 90)
        problems.push({
          severity: 'warning',
          message: `Redis memory ${figures.usedPercent}% of maxmemory`,
          next: 'raise maxmemory or find the large keys: redis-cli --bigkeys',
        })
      if (figures.evictedKeys > 0)
        problems.push({
          severity: 'warning',
          message: `${figures.evictedKeys} keys evicted since start`,
          next: 'Redis is out of memory for its data: raise maxmemory',
        })
      if (figures.lastSaveStatus && figures.lastSaveStatus !== 'ok')
        problems.push({
          severity: 'warning',
          message: `last RDB save: ${figures.lastSaveStatus}`,
          next: "read the Redis log for the save's error (disk full? permissions?)",
        })
      const details = [
        `${config.redis.url}: Redis ${figures.version}, PING in ${latencyMs} ms, ${figures.connectedClients} clients`,
        `memory ${formatBytes(used)}${max > 0 ? ` of ${formatBytes(max)} (${figures.usedPercent}%)` : ' (no maxmemory)'}, ${figures.evictedKeys} evicted, last save ${figures.lastSaveStatus ?? 'n/a'}`,
      ]
      return verdict(
        `up, ${figures.version}, ${formatBytes(used)}${max > 0 ? ` of ${formatBytes(max)}` : ''}, ${figures.connectedClients} clients`,
        details,
        problems,
        figures,
      )
    } catch (error) {
      throw redisFailure(error, config.redis, bound)
    } finally {
      closeRedis(client)
    }
  },
}
