/**
 * What diagnose's backups step read, rated: pure, so that every verdict is tested without a
 * repository or a PostgreSQL. A backup is found by its manifest's key alone (the id carries the
 * kind and the time); only the newest manifests are read, for what they record of verification.
 */

import type { BackupKind } from '../../backups/manifest.js'
import { formatDuration } from '../../lib/duration.js'
import { plural } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import type { BackupsData } from './data.js'

export const BACKUP_KINDS: readonly BackupKind[] = ['database', 'config', 'base']

/** More segments than this waiting to be archived is a lag whatever their age. */
export const PENDING_SEGMENTS = 8
/** The oldest waiting segment may be this many archive_timeouts old before it is a lag. */
export const LAG_TIMEOUTS = 2

const BACKUP_ID = /^(database|config|base)-(?:(.+)-)?(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})?Z$/

/** A backup id read back (store.ts's backupId): its kind, database and time; undefined for another name. */
export function parseBackupId(id: string): { kind: BackupKind; database?: string; takenAt: Date } | undefined {
  const match = BACKUP_ID.exec(id)
  if (!match) return undefined
  const [, kind, database, year, month, day, hour, minute, second, milliseconds] = match
  const takenAt = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), Number(milliseconds ?? 0)))
  // Date.UTC rolls a 13th month or a 32nd day over: such a stamp is no time backupId wrote.
  if (Number.isNaN(takenAt.getTime()) || takenAt.toISOString().slice(0, 19).replace(/[-:]/g, '') !== `${year}${month}${day}T${hour}${minute}${second}`)
    return undefined
  return { kind: kind as BackupKind, ...(database === undefined ? {} : { database }), takenAt }
}

type RepositoryLook = BackupsData['repositories'][number]
type KindLook = RepositoryLook['kinds'][number]
type ArchiverLook = BackupsData['archiver']

const TAKE = { database: 'probe-ops backup database', config: 'probe-ops backup config', base: 'probe-ops backup base' } as const

function seconds(value: number): string {
  return formatDuration(Math.max(0, Math.round(value)) * 1000)
}

/** A repository that did not answer: its backups are unknown, never "none". */
export function unreachableFinding(repository: Pick<RepositoryLook, 'name' | 'where' | 'error' | 'code'>): Finding {
  const fix =
    repository.code === 'auth' || repository.code === 'permission'
      ? `check the credentials of repository ${repository.name} (credentialsFile, profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and what they may do in the bucket`
      : repository.code === 'not-found'
        ? `check backup.repositories[${repository.name}]: its bucket or directory is not there`
        : `check that ${repository.where} answers from this host (network, DNS, the server itself)`
  return {
    id: `repository-unreachable:${repository.name}`,
    severity: 'high',
    subject: repository.name,
    message: `repository ${repository.name} (${repository.where}) did not answer (${repository.code ?? 'failed'}): ${repository.error ?? 'no error given'}; its backups are unknown`,
    fix,
  }
}

function kindFindings(repository: string, look: KindLook, verificationMaxAgeSeconds: number): Finding[] {
  const findings: Finding[] = []
  const where = `${repository}:${look.kind}`
  const newest = look.newest
  if (!newest) {
    if (look.expected)
      findings.push({
        id: `backup-missing:${where}`,
        severity: 'high',
        subject: where,
        message: `repository ${repository} holds no ${look.kind} backup`,
        fix: `take one: ${TAKE[look.kind]}, and check that its cron entry runs`,
      })
    return findings
  }
  if (newest.damaged)
    findings.push({
      id: `backup-damaged:${where}`,
      severity: 'high',
      subject: where,
      message: `the newest ${look.kind} backup in repository ${repository}, ${newest.id}, cannot be trusted: ${newest.damaged}`,
      fix: `take a new one (${TAKE[look.kind]}); probe-ops backup list shows what else there is`,
    })
  if (newest.ageSeconds > look.maxAgeSeconds)
    findings.push({
      id: `backup-too-old:${where}`,
      severity: 'high',
      subject: where,
      message: `the newest ${look.kind} backup in repository ${repository}, ${newest.id}, is ${seconds(newest.ageSeconds)} old (backup.maxAge.${look.kind}: ${seconds(look.maxAgeSeconds)})`,
      fix: `take one now (${TAKE[look.kind]}); its report, or the maintenance log, says why the scheduled one did not run or failed`,
    })
  const verification = look.lastVerification
  if (verification && !verification.ok)
    findings.push({
      id: `verification-failed:${where}`,
      severity: 'high',
      subject: where,
      message: `the last verification of ${verification.id} in repository ${repository} failed (${verification.at}, ${verification.method}): ${verification.detail}`,
      fix: `see why: probe-ops backup verify ${verification.id}; then take a new backup (${TAKE[look.kind]})`,
    })
  else {
    const since = verification ? Date.parse(verification.at) : undefined
    const ageSeconds = since === undefined ? undefined : newest.ageSeconds + (Date.parse(newest.takenAt) - since) / 1000
    if (ageSeconds === undefined || ageSeconds > verificationMaxAgeSeconds)
      findings.push({
        id: `verification-stale:${where}`,
        severity: 'medium',
        subject: where,
        message:
          ageSeconds === undefined
            ? `no ${look.kind} backup in repository ${repository} was verified within backup.maxAge.verification (${seconds(verificationMaxAgeSeconds)})`
            : `the last verification of a ${look.kind} backup in repository ${repository} was ${seconds(ageSeconds)} ago (backup.maxAge.verification: ${seconds(verificationMaxAgeSeconds)})`,
        fix: 'probe-ops backup verify latest, and schedule it weekly (with --restore-test)',
      })
  }
  return findings
}

/** One repository's findings: unreachable alone says it all; else each kind's, and the last archived WAL file. */
export function repositoryFindings(look: RepositoryLook, verificationMaxAgeSeconds: number): Finding[] {
  if (!look.reachable) return [unreachableFinding(look)]
  const findings = look.kinds.flatMap((kind) => kindFindings(look.name, kind, verificationMaxAgeSeconds))
  if (look.repositoryFile)
    findings.push({
      id: `repository-file-invalid:${look.name}`,
      severity: 'high',
      subject: look.name,
      message: look.repositoryFile,
      fix: `no backup or WAL file is written there until it is fixed: restore the file, or point backup.repositories[${look.name}] at a prefix of its own`,
    })
  if (look.wal && !look.wal.found)
    findings.push({
      id: `wal-missing-in-repository:${look.name}`,
      severity: 'high',
      subject: look.name,
      message: `repository ${look.name} does not hold ${look.wal.segment}, the WAL file PostgreSQL last archived${look.archiveId ? ` (archive ${look.archiveId})` : ''}: point-in-time recovery from it stops before that`,
      fix: `check archive_command (probe-ops backup wal-setup shows it) and that it writes to repository ${look.name}`,
    })
  return findings
}

/** The archiver: failing (critical), lagging (high), not read (medium), its queue not readable (low). */
export function archiverFindings(archiver: ArchiverLook): Finding[] {
  if (!archiver.read)
    return [
      {
        id: 'wal-archiver-not-read',
        severity: 'medium',
        message: `PostgreSQL was not read, so neither its WAL archiver nor the databases an interrupted restore leaves were checked: ${archiver.error}`,
        fix: 'probe-ops diagnose --only postgres says why PostgreSQL does not answer',
      },
    ]
  if (archiver.archiveMode === 'off') return []
  const findings: Finding[] = []
  const failedAt = archiver.lastFailedAt === null ? undefined : Date.parse(archiver.lastFailedAt)
  const archivedAt = archiver.lastArchivedAt === null ? undefined : Date.parse(archiver.lastArchivedAt)
  if (failedAt !== undefined && (archivedAt === undefined || failedAt > archivedAt))
    findings.push({
      id: 'wal-archiver-failing',
      severity: 'critical',
      message:
        `PostgreSQL cannot archive WAL: ${archiver.lastFailedWal ?? 'a WAL file'} failed at ${archiver.lastFailedAt}` +
        `${archiver.lastArchivedAt ? `, the last success was at ${archiver.lastArchivedAt}` : ', and nothing was ever archived'} (${plural(archiver.failedCount, 'failure')} since the statistics were reset)`,
      fix: "read archive_command's error in PostgreSQL's log; until it works PostgreSQL keeps every WAL file (pg_wal grows) and point-in-time recovery stops at the last archived one",
    })
  const queue = archiver.statusDirectory
  if (!queue.read)
    findings.push({
      id: 'wal-archive-queue-not-read',
      severity: 'low',
      message: `the WAL files waiting to be archived were not counted: ${queue.error}`,
      fix: `grant the role diagnose connects as pg_monitor (grant pg_monitor to <user>), so that pg_ls_archive_statusdir() answers`,
    })
  else {
    const limit = archiver.lagLimitSeconds
    const old = queue.pending > 0 && queue.oldestPendingSeconds > limit
    if (old || queue.pending > PENDING_SEGMENTS)
      findings.push({
        id: 'wal-archive-lag',
        severity: 'high',
        message: `${plural(queue.pending, 'WAL file')} waiting to be archived, the oldest for ${seconds(queue.oldestPendingSeconds)} (2 × ${archiver.archiveTimeoutSeconds ? 'archive_timeout' : 'backup.wal.archiveTimeoutSeconds, archive_timeout being off'}: ${seconds(limit)})`,
        fix: "archive_command is slow or failing: read its errors in PostgreSQL's log, and check the repositories answer (probe-ops diagnose --only backups)",
      })
  }
  return findings
}

export function interruptedRestoreFinding(interrupted: BackupsData['interruptedRestores']): Finding[] {
  if (interrupted.length === 0) return []
  return [
    {
      id: 'restore-interrupted',
      severity: 'high',
      message: `an interrupted restore waits to be finished or undone: ${interrupted.map((entry) => entry.detail).join('; ')}`,
      fix: 'probe-ops restore --cleanup',
    },
  ]
}
