import { UsageError } from '../errors.js'
import { splitHttpCredentials } from './credentials.js'
import type { ServiceConfig } from './model.js'
import type { Runtime, ServiceFileEntry } from './schema.js'

/** The guide's deployment: four services under docker-compose, management depending on the stores. */
const DEFAULT_SERVICES: Record<string, Partial<ServiceConfig>> = {
  management: {
    readiness: 'http',
    url: 'http://localhost:8000/api/v1/health',
    dependsOn: ['postgres', 'redis'],
    unit: 'network-probe-management.service',
    silences: ['alertname=~"HighErrorRate|HighResponseTime"'],
  },
  web: { readiness: 'http', url: 'http://localhost:3000', unit: 'network-probe-web.service' },
  postgres: { readiness: 'postgres', dataDir: '/var/lib/postgresql/data', unit: 'postgresql.service', silences: ['alertname="DatabaseConnectionFailure"'] },
  redis: { readiness: 'redis', unit: 'redis-server.service' },
}

/** The services of the guide's deployment and of the file, merged and checked (a runtime's needs, dependencies that exist). */
export function resolveServices(fromFile: Record<string, ServiceFileEntry>, defaultRuntime: Runtime): ServiceConfig[] {
  const names = [...new Set([...Object.keys(DEFAULT_SERVICES), ...Object.keys(fromFile)])]
  const services: ServiceConfig[] = []
  for (const name of names) {
    const base = DEFAULT_SERVICES[name] ?? {}
    const entry = fromFile[name] ?? {}
    if (entry.enabled === false) continue
    const { enabled: _enabled, user, passwordFile, ...given } = entry
    const merged = { ...base, ...stripUndefined(given) }
    if (merged.url === undefined && (user || passwordFile))
      throw new UsageError(
        `services.${name}: ${user ? 'user' : 'passwordFile'} is for the health URL, and there is none`,
        `add services.${name}.url, or remove services.${name}.${user ? 'user' : 'passwordFile'}`,
      )
    const health =
      merged.url === undefined ? undefined : splitHttpCredentials(merged.url, { key: `services.${name}`, origin: `services.${name}.url`, user, passwordFile })
    const readiness = merged.readiness ?? (merged.url ? 'http' : 'running')
    if (readiness === 'http' && !merged.url) {
      throw new UsageError(`services.${name}: readiness "http" needs a url`, `add services.${name}.url: http://host:port/health`)
    }
    const runtime = merged.runtime ?? defaultRuntime
    if (runtime === 'process' && !merged.pidFile) {
      throw new UsageError(`services.${name}: runtime "process" needs a pidFile`, `add services.${name}.pidFile`)
    }
    services.push({
      name,
      runtime,
      container: merged.container ?? name,
      composeService: merged.composeService ?? name,
      unit: merged.unit ?? `network-probe-${name}.service`,
      pidFile: merged.pidFile,
      logFile: merged.logFile,
      readiness,
      url: health?.url,
      ...(health?.credentials ? { credentials: health.credentials } : {}),
      dependsOn: merged.dependsOn ?? [],
      dataDir: merged.dataDir,
      start: merged.start,
      stopSignal: merged.stopSignal ?? (name === 'postgres' ? 'SIGINT' : 'SIGTERM'),
      readinessTimeoutMs: (merged.readinessTimeoutSeconds ?? 60) * 1000,
      stopGraceSeconds: merged.stopGraceSeconds ?? 10,
      // Our own alerts carry service=NAME; Prometheus scrape alerts usually job=NAME.
      silences: [`service="${name}"`, `job="${name}"`, ...(merged.silences ?? [])],
    })
  }
  const known = new Set(services.map((s) => s.name))
  for (const service of services) {
    const missing = service.dependsOn.find((dep) => !known.has(dep))
    if (missing)
      throw new UsageError(
        `services.${service.name}.dependsOn names "${missing}", which is not a configured service`,
        `known services: ${[...known].join(', ')}`,
      )
  }
  return services
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
