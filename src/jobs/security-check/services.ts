import type { Config } from '../../config/load.js'
import { describeError } from '../../errors.js'
import { withTimeout } from '../../lib/time.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { connectDocker } from '../../systems/docker.js'
import { closePostgres, connectPostgres, queryRows } from '../../systems/postgres.js'
import { closeRedis, connectRedis } from '../../systems/redis.js'
import type { SecurityContext } from './context.js'
import type { ServicesData } from './data.js'

/**
 * The platform's services as an attacker on the network would see them: Redis answering without
 * a password, pg_hba.conf `trust` for addresses that are not this machine, and containers that
 * own the host (privileged, or holding the Docker socket). A service that cannot be reached is
 * said, not counted as a finding: diagnose is the command for that.
 */

interface Part {
  check: 'redis' | 'pg-hba' | 'containers'
  checked: boolean
  detail: string
  findings: Finding[]
}

function redisAddress(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || 6379}`
  } catch {
    return url
  }
}

async function checkRedis(config: Readonly<Config>, timeoutMs: number): Promise<Part> {
  const address = redisAddress(config.redis.url)
  try {
    // Deliberately without the configured user and password: does Redis let anyone in?
    const client = await connectRedis({ ...config.redis, username: undefined, password: undefined }, timeoutMs)
    closeRedis(client)
    return {
      check: 'redis',
      checked: true,
      detail: `redis ${address}: answers PING without a password`,
      findings: [
        {
          id: `redis-no-password:${address}`,
          severity: 'high',
          message: `Redis at ${address} answers without a password: any process or request that reaches it can read and change every key (and write files through CONFIG SET)`,
          fix: 'set requirepass (or ACL users) in redis.conf, and give probe-ops the password through redis.passwordFile or REDIS_URL',
        },
      ],
    }
  } catch (error) {
    const message = describeError(error)
    if (/rejected the password|NOAUTH|WRONGPASS|Authentication required/i.test(message))
      return { check: 'redis', checked: true, detail: `redis ${address}: a password is required`, findings: [] }
    return { check: 'redis', checked: false, detail: `redis ${address}: not checked: ${message}`, findings: [] }
  }
}

interface HbaRule {
  line_number: number
  type: string
  database: string[] | null
  user_name: string[] | null
  address: string | null
  netmask: string | null
  auth_method: string | null
  error: string | null
}

const LOCAL_ADDRESSES = /^(127\.\d+\.\d+\.\d+(\/(8|9|[12]\d|3[0-2]))?|::1(\/128)?|localhost|samehost)$/

/** pg_hba_file_rules gives 0.0.0.0/0 as address 0.0.0.0 and netmask 0.0.0.0: back to a prefix length. */
export function prefixLength(netmask: string): number | undefined {
  const bits = netmask.includes(':')
    ? netmask
        .split(':')
        .map((g) => (g === '' ? 0 : Number.parseInt(g, 16)).toString(2).padStart(16, '0'))
        .join('')
    : netmask
        .split('.')
        .map((o) => Number(o).toString(2).padStart(8, '0'))
        .join('')
  return /^1*0*$/.test(bits) ? (bits.indexOf('0') === -1 ? bits.length : bits.indexOf('0')) : undefined
}

/** Findings for pg_hba_file_rules rows: trust beyond this machine is critical. */
export function hbaFindings(rules: readonly HbaRule[]): Finding[] {
  const findings: Finding[] = []
  for (const r of rules) {
    if (r.error) {
      findings.push({
        id: `pg-hba-error:${r.line_number}`,
        severity: 'low',
        message: `pg_hba.conf line ${r.line_number} is invalid: ${r.error}`,
        fix: 'fix the line: PostgreSQL keeps the old rules until the file loads cleanly',
      })
      continue
    }
    if (r.auth_method !== 'trust') continue
    const address = r.address ? `${r.address}${r.netmask ? `/${prefixLength(r.netmask) ?? r.netmask}` : ''}` : ''
    const who = `${(r.database ?? []).join(',')} ${(r.user_name ?? []).join(',')}`
    const id = `pg-hba-trust:${r.type}:${(r.database ?? []).join(',')}:${(r.user_name ?? []).join(',')}${address ? `:${address}` : ''}`
    if (r.type === 'local' || LOCAL_ADDRESSES.test(address)) {
      findings.push({
        id,
        severity: 'low',
        message: `pg_hba.conf line ${r.line_number}: trust for ${r.type === 'local' ? 'the local socket' : address} (${who}): any local user can connect as any of those users without a password`,
        fix: 'use peer (local) or scram-sha-256 instead of trust',
      })
    } else {
      findings.push({
        id,
        severity: 'critical',
        message: `pg_hba.conf line ${r.line_number}: trust for ${address || r.type} (${who}): anyone who reaches PostgreSQL from there connects without a password`,
        fix: 'replace trust with scram-sha-256 on that line, then SELECT pg_reload_conf()',
      })
    }
  }
  return findings
}

async function checkPgHba(config: Readonly<Config>, timeoutMs: number): Promise<Part> {
  let client
  try {
    client = await connectPostgres(config.postgres, { connectTimeoutMs: timeoutMs, statementTimeoutMs: timeoutMs })
  } catch (error) {
    return { check: 'pg-hba', checked: false, detail: `pg_hba: not checked: ${describeError(error)}`, findings: [] }
  }
  try {
    const rules = await queryRows<HbaRule>(
      client,
      'select line_number, type, database, user_name, address, netmask, auth_method, error from pg_hba_file_rules order by line_number',
    )
    const findings = hbaFindings(rules)
    return { check: 'pg-hba', checked: true, detail: `pg_hba: ${rules.length} rules, ${rules.filter((r) => r.auth_method === 'trust').length} trust`, findings }
  } catch (error) {
    const message = describeError(error)
    const why = /permission denied/i.test(message) ? `${config.postgres.user} may not read pg_hba_file_rules (superusers only by default)` : message
    return { check: 'pg-hba', checked: false, detail: `pg_hba: not checked: ${why}`, findings: [] }
  } finally {
    await closePostgres(client)
  }
}

interface ContainerFacts {
  Name: string
  State?: { Status?: string; Running?: boolean }
  HostConfig?: { Privileged?: boolean; CapAdd?: string[] | null }
  Mounts?: { Source?: string; Destination?: string }[]
}

/**
 * What makes a container root on the host. A stopped one is rated lower, not ignored: its
 * restart policy or the next `docker compose up` brings it back as it is configured.
 */
export function containerFindings(info: ContainerFacts): Finding[] {
  const name = info.Name.replace(/^\//, '')
  const running = info.State?.Running ?? true
  const state = running ? '' : ` (${info.State?.Status ?? 'not running'} now, as configured)`
  const findings: Finding[] = []
  if (info.HostConfig?.Privileged) {
    findings.push({
      id: `container-privileged:${name}`,
      severity: running ? 'high' : 'medium',
      message: `container ${name} runs privileged${state}: a process in it that escapes owns the host`,
      fix: `drop privileged: true from ${name}'s definition; add only the capabilities it needs (cap_add)`,
    })
  }
  const socket = (info.Mounts ?? []).find((m) => /docker\.sock$/.test(m.Source ?? '') || /docker\.sock$/.test(m.Destination ?? ''))
  if (socket) {
    findings.push({
      id: `container-docker-socket:${name}`,
      severity: running ? 'high' : 'medium',
      message: `container ${name} has the Docker socket mounted${state} (${socket.Source} → ${socket.Destination}): it can start privileged containers, i.e. it is root on the host`,
      fix: `remove the docker.sock volume from ${name}, or put a filtering proxy (read-only API) in between`,
    })
  }
  const caps = (info.HostConfig?.CapAdd ?? []).filter((c) => /^(CAP_)?(SYS_ADMIN|ALL|SYS_MODULE|SYS_PTRACE)$/i.test(c))
  if (caps.length > 0 && !info.HostConfig?.Privileged) {
    findings.push({
      id: `container-capabilities:${name}`,
      severity: 'medium',
      message: `container ${name} adds ${caps.join(', ')}${state}`,
      fix: 'drop those capabilities unless the service cannot work without them',
    })
  }
  return findings
}

async function checkContainers(config: Readonly<Config>, timeoutMs: number): Promise<Part> {
  let docker
  try {
    docker = await connectDocker({ ...config.docker, timeoutMs: Math.min(config.docker.timeoutMs, timeoutMs) })
  } catch (error) {
    return { check: 'containers', checked: false, detail: `containers: not checked: ${describeError(error)}`, findings: [] }
  }
  try {
    const listed = await docker.listContainers({ all: true })
    const infos = await Promise.all(listed.map((c) => docker.getContainer(c.Id).inspect() as Promise<ContainerFacts>))
    const findings = infos.flatMap(containerFindings)
    return {
      check: 'containers',
      checked: true,
      detail: `containers: ${infos.filter((i) => i.State?.Running).length} running, ${infos.length} in all`,
      findings,
    }
  } catch (error) {
    return { check: 'containers', checked: false, detail: `containers: not checked: ${describeError(error)}`, findings: [] }
  }
}

export const services: StepDefinition<SecurityContext, ServicesData> = {
  timeoutMs: ({ config }) => config.security.checkTimeoutMs + 2000,
  async run({ config }) {
    const bound = config.security.checkTimeoutMs
    const guard = (check: Part['check'], work: Promise<Part>) =>
      withTimeout(check, bound + 1000, work).catch((error): Part => ({
        check,
        checked: false,
        detail: `${check}: not checked: ${describeError(error)}`,
        findings: [],
      }))
    const parts = await Promise.all([
      guard('redis', checkRedis(config, bound)),
      guard('pg-hba', checkPgHba(config, bound)),
      guard('containers', checkContainers(config, bound)),
    ])
    const findings = parts.flatMap((p) => p.findings)
    const summary = parts.map((p) => `${p.check} ${!p.checked ? 'not checked' : p.findings.length === 0 ? 'ok' : `${p.findings.length} findings`}`).join(', ')
    return {
      summary,
      findings,
      details: parts.map((p) => p.detail),
      data: { checks: parts.map(({ findings: f, ...p }) => ({ ...p, findings: f.map((x) => x.id) })) },
    }
  },
}
