import { findDatabaseLeftovers, type DatabaseLeftover } from '../../backups/leftovers.js'
import { describeInterruptedSwitch, describeLeftStopped, interruptedSwitch, leftStopped } from '../../backups/run-notes.js'
import { locationOf, withIncompleteUploads, readCatalog, unreachableMessage, type Catalog, type BackupCopy } from '../../backups/catalog.js'
import { effectiveRepositories } from '../../config/repositories.js'
import { abandonedStagings } from '../../backups/staging.js'
import { join, dirname } from 'node:path'
import { manifestKey } from '../../repositories/layout.js'
import { describeError } from '../../errors.js'
import { formatSize, plural } from '../../lib/format.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import type { CatalogContext } from './context.js'
import { refusedFindings } from '../shared/refused.js'
import type { ListData, WalWindowsData } from './data.js'
import { readWindows } from './wal-window.js'
import { describeWindows } from '../../wal/window-text.js'

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
async function problems(context: CatalogContext, found: Catalog): Promise<{ findings: Finding[]; databases: DatabaseLeftover[] }> {
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
  for (const u of found.unreachable)
    findings.push({
      id: `repository-unreadable:${u.repository}`,
      severity: 'high',
      subject: u.where,
      message: unreachableMessage(u),
      fix: `what it holds is unknown: check the repository (credentials, endpoint, bucket), then run probe-ops backup list --repository ${u.repository}`,
    })
  const local = new Set(found.repositories.filter((r) => r.kind === 'local').map((r) => r.name))
  for (const l of found.leftovers)
    findings.push({
      id: `leftover:${l.path}`,
      severity: 'low',
      subject: l.path,
      message: `${l.path}: ${l.why}`,
      fix: local.has(l.repository) ? 'probe-ops restore --cleanup removes it' : 'probe-ops backup prune removes it',
    })
  findings.push(...incompleteUploadFindings(context, found))
  for (const path of await abandonedStagings(config.backup.dir))
    findings.push({
      id: `restore-staging:${path}`,
      severity: 'low',
      subject: path,
      message: `${path}: a copy an interrupted restore staged`,
      fix: 'probe-ops restore --cleanup removes it',
    })
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

/** A low finding per incomplete upload over 24 h old: a leftover whose parts take space in the bucket. */
function incompleteUploadFindings({ config }: CatalogContext, found: Catalog): Finding[] {
  const pruned = new Set(
    effectiveRepositories(config.backup)
      .filter((r) => r.prune)
      .map((r) => r.name),
  )
  return found.incompleteUploads.flatMap((entry) => {
    if (!('uploads' in entry)) return []
    const repository = found.repositories.find((r) => r.name === entry.repository)!
    return entry.uploads.map((upload) => ({
      id: `incomplete-upload:${entry.repository}:${upload.uploadId}`,
      severity: 'low' as const,
      subject: locationOf(repository, upload.key),
      message: `${locationOf(repository, upload.key)}: a multipart upload started ${upload.initiated.toISOString()} and never completed (its parts take space)`,
      fix: pruned.has(entry.repository)
        ? 'probe-ops backup prune aborts it'
        : 'a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it, or prune: true lets probe-ops backup prune abort it',
    }))
  })
}

function lastVerification(copy: BackupCopy): { at: string; ok: boolean; method: 'checksum' | 'list' | 'restore-test' } | null {
  const last = copy.manifest.verifications.at(-1)
  return last ? { at: last.at, ok: last.ok, method: last.method } : null
}

/** Where a copy's manifest is, for people and scripts: a path, or s3://bucket/prefix/key. */
function manifestLocation(copy: BackupCopy): string {
  const key = manifestKey(copy.manifest.id)
  return copy.path !== undefined ? join(dirname(copy.path), key) : locationOf(copy.repository, key)
}

/** Every backup with its kind, age, size, copies and last verification, and what needs cleaning up. */
export const listStep: StepDefinition<CatalogContext, ListData> = {
  async run(context, run) {
    const { config } = context
    const found = await readCatalog(config.backup, { names: context.repositories, signal: run.signal, incompleteUploads: true })
    const { findings, databases } = await problems(context, found)
    const rows = found.entries.map(({ manifest: m, copies }) => {
      const [first] = copies
      const verifications = copies.map(lastVerification).filter((v) => v !== null)
      const last = verifications.sort((a, b) => b.at.localeCompare(a.at))[0] ?? null
      return {
        id: m.id,
        kind: m.kind,
        reason: m.reason,
        path: first!.location,
        manifest: manifestLocation(first!),
        age: age(m.startedAt),
        startedAt: m.startedAt,
        bytes: m.bytes,
        sha256: m.sha256,
        encrypted: m.encryption !== undefined,
        lastVerification: last,
        copies: copies.map((copy) => ({
          repository: copy.repository.name,
          path: copy.location,
          manifest: manifestLocation(copy),
          lastVerification: lastVerification(copy),
        })),
      }
    })
    const unread = new Set(found.unreachable.map((u) => u.repository))
    const copies = found.entries.flatMap((entry) => entry.copies)
    const windows = new Map<string, WalWindowsData>()
    const windowLines: string[] = []
    for (const repository of found.repositories.filter((r) => !unread.has(r.name))) {
      const read = await readWindows(config, repository, copies, run.signal)
      findings.push(...read.findings)
      if (!read.data) continue
      windows.set(repository.name, read.data)
      windowLines.push(describeWindows(repository.name, read.data))
    }
    const several = found.repositories.length > 1
    const unchecked = found.incompleteUploads.flatMap((u) => ('unchecked' in u ? [u.unchecked] : []))
    const details = rows.map(
      (r) =>
        `${r.id}  ${r.kind}  ${r.age} old  ${formatSize(r.bytes)}${r.encrypted ? '  encrypted' : ''}  ${r.lastVerification ? `${r.lastVerification.ok ? 'verified' : 'FAILED'} ${r.lastVerification.method} ${age(r.lastVerification.at)} ago` : 'not verified'}${several ? `  in ${r.copies.map((c) => c.repository).join(', ')}` : ''}`,
    )
    const readable = found.repositories.filter((r) => !unread.has(r.name))
    const places = several || found.repositories[0]?.kind !== 'local' ? readable.map((r) => r.name).join(', ') : config.backup.dir
    // A repository that could not be read holds an unknown number of backups: never counted as none.
    const counted = readable.length > 0 ? `${plural(rows.length, 'backup')} in ${places}` : 'no repository could be read'
    const unreadNote = unread.size > 0 ? `; ${[...unread].join(', ')} could not be read` : ''
    const gaps = [...windows.values()].reduce((sum, w) => sum + w.gaps.length, 0)
    const cleanup = findings.filter((f) => !f.id.startsWith('wal-')).length - unread.size
    const gapNote = gaps > 0 ? `; ${plural(gaps, 'gap')} in the WAL` : ''
    return {
      summary: `${counted}${unreadNote}${gapNote}${cleanup > 0 ? `; ${plural(cleanup, 'thing')} to clean up` : ''}`,
      findings,
      details: [...details, ...windowLines, ...unchecked],
      data: {
        dir: config.backup.dir,
        repositories: found.repositories.map((r) => ({
          name: r.name,
          where: r.where,
          backups: unread.has(r.name) ? null : rows.filter((row) => row.copies.some((c) => c.repository === r.name)).length,
          readable: !unread.has(r.name),
          ...withIncompleteUploads(found, r.name),
          ...(windows.has(r.name) ? { wal: windows.get(r.name)! } : {}),
        })),
        backups: rows,
        leftovers: found.leftovers,
        unreadable: found.unreadable,
        databaseLeftovers: databases,
      },
    }
  },
}
