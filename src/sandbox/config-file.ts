import { join } from 'node:path'
import { dump } from 'js-yaml'
import type { ConfigFile } from '../config/schema.js'
import { writeFileAtomic } from '../lib/files.js'
import { PG_BIN_DIR } from '../local-platform/postgres.js'
import { REDIS_SERVER } from '../local-platform/redis.js'
import { fakeHttpCommand } from './components.js'
import { SandboxError, shellQuote, type Layout } from './layout.js'
import type { SandboxState } from './state.js'

/** The sandbox's probe-ops.yaml: every service where `sandbox up` started it, and every job's files inside the sandbox. */

export async function writeProbeOpsConfig(paths: Layout, state: SandboxState): Promise<void> {
  const c = state.components
  const config: ConfigFile = {
    host: 'sandbox',
    runtime: 'process',
    postgres: { host: '127.0.0.1', port: c.postgres!.port, user: 'postgres', database: 'network_probe', passwordFile: paths.pgPassword },
    redis: { url: `redis://127.0.0.1:${c.redis!.port}`, passwordFile: paths.redisPassword },
    alertmanager: { url: c.alertmanager!.address },
    // Each with the command that starts it, so `probe-ops recover` and `restore` can restart it.
    services: {
      management: {
        runtime: 'process',
        pidFile: paths.pidFiles.management,
        logFile: paths.logs.management,
        readiness: 'http',
        url: c.management!.address,
        dependsOn: ['postgres', 'redis'],
        start: fakeHttpCommand('management', paths, c.management!.port),
        readinessTimeoutSeconds: 15,
      },
      web: {
        runtime: 'process',
        pidFile: paths.pidFiles.web,
        logFile: paths.logs.web,
        readiness: 'http',
        url: c.web!.address,
        start: fakeHttpCommand('web', paths, c.web!.port),
        readinessTimeoutSeconds: 15,
      },
      postgres: {
        runtime: 'process',
        pidFile: paths.pidFiles.postgres,
        logFile: paths.logs.postgres,
        readiness: 'postgres',
        dataDir: paths.pgData,
        // PostgreSQL refuses to run as root: as root, start it as its own user.
        start: [
          ...(process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : []),
          join(PG_BIN_DIR, 'pg_ctl'),
          'start',
          '-D',
          paths.pgData,
          '-l',
          paths.logs.postgres,
          '-w',
          '-t',
          '30',
          '-s',
        ],
        readinessTimeoutSeconds: 30,
      },
      redis: {
        runtime: 'process',
        pidFile: paths.pidFiles.redis,
        logFile: paths.logs.redis,
        readiness: 'redis',
        start: [REDIS_SERVER, paths.redisConf],
        readinessTimeoutSeconds: 15,
      },
    },
    disk: { paths: [paths.dir] },
    log: { file: paths.maintenanceLog },
    metrics: { textfileDir: paths.metrics },
    lock: { dir: paths.lock },
  }
  const document = await keepJobsInside(paths, config, state.notes, { prometheus: c.prometheus?.address, loki: c.loki?.address })
  const header = [
    `# probe-ops sandbox in ${paths.dir}, written by \`probe-ops sandbox up\` at ${new Date().toISOString()}.`,
    `# Every service runs on 127.0.0.1; passwords are in ${paths.secrets}.`,
    `# \`probe-ops sandbox down --dir ${shellQuote(paths.dir)}\` stops it all and removes this directory.`,
  ].join('\n')
  await writeFileAtomic(paths.config, `${header}\n${dump(document, { lineWidth: -1, noRefs: true })}`, 0o644)
}

/**
 * Settings whose defaults are the host's own paths (maintain daily's cleanup of
 * /var/log/network-probe and /tmp) are pointed inside the sandbox, where this build of probe-ops
 * has them; the result must validate, or the sandbox does not start.
 */
export async function keepJobsInside(
  paths: Layout,
  config: ConfigFile,
  notes: string[],
  monitoring: { prometheus?: string; loki?: string } = {},
): Promise<Record<string, unknown>> {
  const { configSchema } = await import('../config/schema.js')
  const inside: Record<string, unknown> = {
    cleanup: {
      logs: [
        { path: paths.logDir, pattern: '*.log', olderThanDays: 30 },
        { path: paths.logDir, pattern: '*.log.*', olderThanDays: 7 },
      ],
      temp: [{ path: paths.tmp, pattern: 'network-probe-*', olderThanDays: 1 }],
    },
    // Backups, the WAL archive and reports stay in the sandbox too.
    backup: { dir: join(paths.dir, 'backups'), configPaths: [join(paths.dir, 'probe-ops.yaml'), paths.redisConf] },
    reports: { dir: join(paths.dir, 'reports') },
    // Its own Prometheus when it runs one; without, '' makes the performance report say so instead of knocking on :9090.
    prometheus: { url: monitoring.prometheus ?? '' },
    // Taken only once the configuration knows Loki (issue 15).
    ...(monitoring.loki ? { loki: { url: monitoring.loki } } : {}),
  }
  const known = configSchema.shape as Record<string, unknown>
  const extended = { ...config, ...Object.fromEntries(Object.entries(inside).filter(([key]) => key in known)) }
  if (configSchema.safeParse(extended).success) return extended
  const plain = configSchema.safeParse(config)
  if (!plain.success) {
    const issue = plain.error.issues[0]!
    throw new SandboxError(`the sandbox's probe-ops.yaml does not validate: ${issue.path.join('.')}: ${issue.message}`, 'this is a bug in `probe-ops sandbox`')
  }
  notes.push("maintain daily would clean the host's own log and temp directories: set cleanup in probe-ops.yaml before running it")
  return { ...config }
}
