import { formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { loadIoredis } from '../../systems/libraries.js'
import { closeRedis, connectRedis, redisFailure, redisInfo } from '../../systems/redis.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { RedisData } from './data.js'
import { redisFindings } from './findings.js'

export const redis: StepDefinition<DiagnoseContext, RedisData> = {
  timeoutMs: checkBound,
  async run({ config, checkTimeoutMs }) {
    const deadline = Date.now() + checkTimeoutMs
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
      const figures: RedisData = {
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
      const memory = `${formatSize(used)}${max > 0 ? ` of ${formatSize(max)}` : ''}`
      return {
        summary: `up, ${figures.version}, ${memory}, ${figures.connectedClients} clients`,
        findings: redisFindings(figures),
        details: [
          `${config.redis.url}: Redis ${figures.version}, PING in ${latencyMs} ms, ${figures.connectedClients} clients`,
          `memory ${formatSize(used)}${max > 0 ? ` of ${formatSize(max)} (${figures.usedPercent}%)` : ' (no maxmemory)'}, ${figures.evictedKeys} evicted, last save ${figures.lastSaveStatus ?? 'n/a'}`,
        ],
        data: figures,
      }
    } catch (error) {
      throw redisFailure(error, config.redis, bound)
    } finally {
      closeRedis(client)
    }
  },
}
