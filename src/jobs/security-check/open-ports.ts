import type { Config } from '../../config/load.js'
import { describeCounts, type Finding, type StepDefinition } from '../../report/outcome.js'
import { listeningSockets, type ListeningSocket } from '../../systems/sockets.js'
import type { SecurityContext } from './context.js'
import type { OpenPortsData } from './data.js'

/**
 * Listening sockets beyond loopback against the allow-list (security.allowedPorts); PostgreSQL
 * and Redis reachable beyond loopback are worse than any other port. Replaces the guide's
 * `netstat -tuln`, which only listed them.
 */

function redisPort(config: Readonly<Config>): number {
  try {
    return Number(new URL(config.redis.url).port || 6379)
  } catch {
    return 6379
  }
}

/** Which of the platform's stores this socket is, by its process or its configured port. */
export function storeOf(socket: Pick<ListeningSocket, 'protocol' | 'port' | 'process'>, config: Readonly<Config>): 'PostgreSQL' | 'Redis' | undefined {
  if (socket.protocol !== 'tcp') return undefined
  if (socket.process === 'postgres' || socket.process === 'postmaster' || socket.port === config.postgres.port) return 'PostgreSQL'
  if (socket.process === 'redis-server' || socket.port === redisPort(config)) return 'Redis'
  return undefined
}

export function socketId(socket: Pick<ListeningSocket, 'protocol' | 'address' | 'port'>): string {
  return `${socket.protocol}:${socket.address.includes(':') ? `[${socket.address}]` : socket.address}:${socket.port}`
}

export function isAllowed(socket: Pick<ListeningSocket, 'protocol' | 'port'>, config: Readonly<Config>): boolean {
  return config.security.allowedPorts.some((a) => a.port === socket.port && (a.protocol === 'any' || a.protocol === socket.protocol))
}

export function openPortFindings(sockets: readonly ListeningSocket[], config: Readonly<Config>): Finding[] {
  const findings: Finding[] = []
  for (const s of sockets) {
    if (s.loopback) continue
    const where = `${s.address === '0.0.0.0' || s.address === '::' ? `${s.address} (all interfaces)` : s.address} ${s.protocol}/${s.port}`
    const owner = s.process ? ` (${s.process}${s.pid ? `, pid ${s.pid}` : ''})` : ''
    const id = `open-port:${socketId(s)}`
    const allowed = isAllowed(s, config)
    const store = storeOf(s, config)
    if (store) {
      const bind = store === 'Redis' ? 'bind 127.0.0.1 in redis.conf' : "listen_addresses = 'localhost' in postgresql.conf"
      findings.push({
        id,
        severity: allowed ? 'low' : 'high',
        message: `${store} listens beyond loopback on ${where}${owner}${allowed ? ', allowed by security.allowedPorts' : ''}`,
        fix: `${bind}, or publish it as "127.0.0.1:${s.port}:${s.port}" in docker-compose; if other hosts need it, firewall it to them${allowed ? '' : ' and add it to security.allowedPorts'}`,
      })
    } else if (!allowed) {
      findings.push({
        id,
        severity: 'medium',
        message: `${where} listens beyond loopback${owner} and is not in security.allowedPorts`,
        fix: `stop or rebind the service to 127.0.0.1 if nothing outside needs it; if it should be reachable, add ${s.protocol}/${s.port} to security.allowedPorts`,
      })
    }
  }
  return findings
}

export const openPorts: StepDefinition<SecurityContext, OpenPortsData> = {
  timeoutMs: ({ config }) => config.security.checkTimeoutMs,
  async run({ config }) {
    const sockets = await listeningSockets()
    const exposed = sockets.filter((s) => !s.loopback)
    const findings = openPortFindings(sockets, config)
    const details = exposed.map(
      (s) => `${socketId(s)}${s.process ? ` ${s.process}${s.pid ? ` (pid ${s.pid})` : ''}` : ''}${isAllowed(s, config) ? ' allowed' : ''}`,
    )
    return {
      summary: `${sockets.length} listening, ${exposed.length} beyond loopback; ${describeCounts(findings)}`,
      findings,
      details,
      data: { allowedPorts: [...config.security.allowedPorts], sockets: sockets.map(({ inode: _inode, ...s }) => s) },
    }
  },
}
