import { join } from 'node:path'
import { OperationFailure } from '../errors.js'

/**
 * The sandbox: a throwaway platform under one directory, every service on 127.0.0.1 at a port
 * the kernel picked, started as detached processes that outlive `sandbox up`, and a
 * probe-ops.yaml that points probe-ops at them. state.json records what runs, for `down` and
 * `status`, and marks the directory as one `down` may remove. This module says where each
 * thing lives.
 */

/** The platform's monitoring (src/local-platform/monitoring.ts), each part started when its program is installed. */
export const MONITORING_COMPONENTS = ['prometheus', 'node-exporter', 'postgres-exporter', 'redis-exporter', 'agents', 'loki'] as const
export const COMPONENTS = ['postgres', 'redis', 'alertmanager', 'management', 'web', ...MONITORING_COMPONENTS] as const
export type ComponentName = (typeof COMPONENTS)[number]
export type MonitoringComponentName = (typeof MONITORING_COMPONENTS)[number]

/** A failure of the sandbox itself (a service would not start): exit 1, one line and a hint. */
export class SandboxError extends OperationFailure {}

export function sandboxLayout(dir: string) {
  const log = join(dir, 'log')
  const run = join(dir, 'run')
  return {
    dir,
    state: join(dir, 'state.json'),
    config: join(dir, 'probe-ops.yaml'),
    secrets: join(dir, 'secrets'),
    pgPassword: join(dir, 'secrets', 'pgpassword'),
    redisPassword: join(dir, 'secrets', 'redispassword'),
    pgData: join(dir, 'pg'),
    pgSocket: join(dir, 'pg-socket'),
    redisData: join(dir, 'redis'),
    redisConf: join(dir, 'redis.conf'),
    alertmanagerData: join(dir, 'alertmanager'),
    alertmanagerConf: join(dir, 'alertmanager.yml'),
    logDir: log,
    runDir: run,
    metrics: join(dir, 'metrics'),
    lock: join(dir, 'lock'),
    tmp: join(dir, 'tmp'),
    monitoring: join(dir, 'monitoring'),
    maintenanceLog: join(log, 'maintenance.log'),
    logs: Object.fromEntries(COMPONENTS.map((c) => [c, join(log, `${c}.log`)])) as Record<ComponentName, string>,
    pidFiles: {
      postgres: join(dir, 'pg', 'postmaster.pid'),
      redis: join(run, 'redis.pid'),
      alertmanager: join(run, 'alertmanager.pid'),
      management: join(run, 'management.pid'),
      web: join(run, 'web.pid'),
      ...Object.fromEntries(MONITORING_COMPONENTS.map((c) => [c, join(run, `${c}.pid`)])),
    } as Record<ComponentName, string>,
  }
}
export type Layout = ReturnType<typeof sandboxLayout>

/** A path as a shell word, quoted only when it needs to be. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}
