import { findDatabaseLeftovers, type DatabaseLeftover } from '../../backups/leftovers.js'
import { describeInterruptedSwitch, describeLeftStopped, interruptedSwitch, leftStopped } from '../../backups/run-notes.js'
import { listBackups, manifestPath } from '../../backups/store.js'
import { describeError } from '../../errors.js'
import { formatSize } from '../../lib/format.js'
import { plural } from '../../lib/words.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import type { BackupContext } from '../shared/backup-context.js'
import { refusedFindings } from '../shared/refused.js'
import type { ListData } from './data.js'

function age(startedAt: string, now = Date.now()): string {
  const hours = (now - Date.parse(startedAt)) / 3_600_000
  return hours < 48 ? `${Math.round(hours)}h` : `${Math.round(hours / 24)}d`
}

/** A note of an interrupted restore, or why it could not be read. */
async function noteOf<T>(read: () => Promise<T | undefined>, describe: (note: T) => string): Promise<string | undefined> {
  try {
    const note = await read()
    return note === undefined ? undefined : describe(note)
  } catch (error) {
    return describeError(error)
  }
}

/**
 * What needs cleaning up: an interrupted switch or swap first (the platform may be down), then
 * what was left behind. Each is a warning: a cron run with --fail-on warning mails it.
 */
async function problems(
  context: BackupContext,
  found: Awaited<ReturnType<typeof listBackups>>,
): Promise<{ findings: Finding[]; databases: DatabaseLeftover[] }> {
  const { config } = context
  const findings: Finding[] = []
  const switching = await noteOf(() => interruptedSwitch(config), describeInterruptedSwitch)
  if (switching)
    findings.push({
      id: 'interrupted-switch',
      severity: 'medium',
      message: switching,
      fix: 'probe-ops restore --cleanup finishes or undoes it and starts PostgreSQL',
    })
  const stopped = await noteOf(() => leftStopped(config), describeLeftStopped)
  if (stopped) findings.push({ id: 'services-left-stopped', severity: 'medium', message: stopped, fix: 'probe-ops restore --cleanup starts them again' })
  for (const l of found.leftovers)
    findings.push({ id: `leftover:${l.path}`, severity: 'low', subject: l.path, message: `${l.path}: ${l.why}`, fix: 'probe-ops restore --cleanup removes it' })
  findings.push(...refusedFindings(found.unreadable))
  for (const path of found.recovered)
    findings.push({
      id: `recovered-dir:${path}`,
      severity: 'low',
      subject: path,
      message: `${path}: the data directory of a point-in-time recovery (a side cluster may still run on it)`,
      fix: `when done with it: pg_ctl -D ${path} stop, then remove it (restore --cleanup leaves it alone)`,
    })
  let databases: DatabaseLeftover[] = []
  try {
    databases = await findDatabaseLeftovers(config)
  } catch (error) {
    // Low: still a warning, but after an interrupted switch, the likely reason PostgreSQL is down.
    findings.push({
      id: 'database-leftovers-unchecked',
      severity: 'low',
      message: `leftover databases not checked: ${describeError(error)}`,
      fix: 'probe-ops diagnose --only postgres',
    })
  }
  for (const l of databases)
    findings.push({
      id: `database-leftover:${l.database}`,
      severity: l.kind === 'connections-disabled' ? 'medium' : 'low',
      subject: l.database,
      message: `database ${l.database}: ${l.what}`,
      fix: l.kind === 'pre-restore' ? 'probe-ops restore --cleanup --drop-pre-restore' : 'probe-ops restore --cleanup',
    })
  return { findings, databases }
}

/** Every backup with its kind, age, size and last verification, and what needs cleaning up. */
export const listStep: StepDefinition<BackupContext, ListData> = {
  async run(context) {
    const { config } = context
    const found = await listBackups(config.backup.dir)
    const { findings, databases } = await problems(context, found)
    const rows = found.backups.map(({ manifest: m, path }) => {
      const last = m.verifications.at(-1)
      return {
        id: m.id,
        kind: m.kind,
        reason: m.reason,
        path,
        manifest: manifestPath(config.backup.dir, m.id),
        age: age(m.startedAt),
        startedAt: m.startedAt,
        bytes: m.bytes,
        sha256: m.sha256,
        lastVerification: last ? { at: last.at, ok: last.ok, method: last.method } : null,
      }
    })
    const details = rows.map(
      (r) =>
        `${r.id}  ${r.kind}  ${r.age} old  ${formatSize(r.bytes)}  ${r.lastVerification ? `${r.lastVerification.ok ? 'verified' : 'FAILED'} ${r.lastVerification.method} ${age(r.lastVerification.at)} ago` : 'not verified'}`,
    )
    return {
      summary: `${plural(rows.length, 'backup')} in ${config.backup.dir}${findings.length ? `; ${plural(findings.length, 'thing')} to clean up` : ''}`,
      findings,
      details,
      data: { dir: config.backup.dir, backups: rows, leftovers: found.leftovers, unreadable: found.unreadable, databaseLeftovers: databases },
    }
  },
}
