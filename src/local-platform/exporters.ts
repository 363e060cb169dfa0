import { answersHttp, serviceEnvironment, startReadyService, type RunningService } from './services.js'

/**
 * The guide's infrastructure exporters, Debian's builds, on 127.0.0.1: node_exporter,
 * postgres_exporter and redis_exporter. Credentials reach them through their environment and
 * files, never argv: postgres_exporter reads its password from DATA_SOURCE_PASS_FILE, and
 * redis_exporter from REDIS_PASSWORD (its -redis.password-file is a JSON map of addresses, and
 * anything on its command line shows in `ps`).
 */

export const EXPORTERS = {
  'node-exporter': { program: 'prometheus-node-exporter', package: 'prometheus-node-exporter' },
  'postgres-exporter': { program: 'prometheus-postgres-exporter', package: 'prometheus-postgres-exporter' },
  'redis-exporter': { program: 'prometheus-redis-exporter', package: 'prometheus-redis-exporter' },
} as const
export type ExporterName = keyof typeof EXPORTERS

interface ExporterStart {
  /** The program, as found on PATH. */
  binary: string
  port: number
  logFile: string
  cwd: string
  newSession?: boolean
  onStarted?: (service: RunningService) => void | Promise<void>
}

export type RunningExporter = RunningService & { url: string; target: string }

async function startExporter(name: ExporterName, options: ExporterStart, args: readonly string[], env: Record<string, string> = {}): Promise<RunningExporter> {
  const target = `127.0.0.1:${options.port}`
  const url = `http://${target}`
  const service = await startReadyService(
    {
      name,
      command: options.binary,
      args,
      logFile: options.logFile,
      cwd: options.cwd,
      env: { ...serviceEnvironment(options.cwd), ...env },
      newSession: options.newSession,
    },
    // A scrape that answers: the exporter listens (postgres_exporter answers even while its database does not).
    { what: `${name} at ${url} to answer GET /metrics`, probe: () => answersHttp(`${url}/metrics`, undefined, 5000), timeoutMs: 30_000 },
    options.onStarted,
  )
  return Object.assign(service, { url, target })
}

export interface NodeExporterOptions extends ExporterStart {
  /** The textfile collector's directory (probe-ops' metrics.textfileDir). */
  textfileDir?: string
}

export function startNodeExporter(options: NodeExporterOptions): Promise<RunningExporter> {
  return startExporter('node-exporter', options, [
    `--web.listen-address=127.0.0.1:${options.port}`,
    ...(options.textfileDir ? [`--collector.textfile.directory=${options.textfileDir}`] : []),
    '--log.level=warn',
  ])
}

export interface PostgresExporterOptions extends ExporterStart {
  host: string
  databasePort: number
  user: string
  database: string
  /** A file that holds the password (a trailing newline is fine). */
  passwordFile: string
}

export function startPostgresExporter(options: PostgresExporterOptions): Promise<RunningExporter> {
  return startExporter('postgres-exporter', options, [`--web.listen-address=127.0.0.1:${options.port}`, '--log.level=warn'], {
    DATA_SOURCE_URI: `${options.host}:${options.databasePort}/${encodeURIComponent(options.database)}?sslmode=disable`,
    DATA_SOURCE_USER: options.user,
    DATA_SOURCE_PASS_FILE: options.passwordFile,
  })
}

export interface RedisExporterOptions extends ExporterStart {
  /** redis://host:port, without a password. */
  address: string
  password?: string
}

export function startRedisExporter(options: RedisExporterOptions): Promise<RunningExporter> {
  return startExporter('redis-exporter', options, [`-web.listen-address=127.0.0.1:${options.port}`], {
    REDIS_ADDR: options.address,
    ...(options.password === undefined ? {} : { REDIS_PASSWORD: options.password }),
  })
}
