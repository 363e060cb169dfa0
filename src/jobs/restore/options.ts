import { basename } from 'node:path'
import { UsageError } from '../../errors.js'

/** catalog.ts's LATEST_BASE: the command's parsing does not load the catalog (and its repositories) to know it. */
const LATEST_BASE = 'latest-base'
import type { RestoreOptions } from './context.js'

/** The flags and argument of `probe-ops restore`, as oclif parsed them. */
export interface RestoreFlags {
  backup?: string
  mode: string
  table?: string[]
  'into-schema'?: string
  'target-time'?: string
  'side-only'?: boolean
  'no-owner'?: boolean
  'no-privileges'?: boolean
  cleanup?: boolean
  'drop-pre-restore'?: boolean
  repository?: string[]
}

/**
 * What `restore`'s flags ask for, checked against each other before anything is read: a flag
 * that does not go with the mode, a missing backup, table or target time, or a time that is not
 * one is the user's mistake (exit 2), said in one line with what to do.
 */
export function restoreOptions(flags: RestoreFlags): RestoreOptions {
  if (flags.cleanup) return { mode: 'cleanup', dropPreRestore: flags['drop-pre-restore'] ?? false }
  const backup = flags.backup
  if (!backup) throw new UsageError('which backup? give its id', 'probe-ops backup list shows them')
  const mode = flags.mode
  if (flags.repository?.length && mode === 'pitr')
    throw new UsageError('--repository goes with --mode full or partial', 'pitr reads base backups from backup.dir')
  if (mode === 'full' && namesBaseBackup(backup)) {
    const dumpOnly = (['no-owner', 'no-privileges', 'into-schema', 'table'] as const).find((flag) => flags[flag] !== undefined && flags[flag] !== false)
    if (dumpOnly)
      throw new UsageError(`--${dumpOnly} goes with a database dump, not with the base backup ${backup}`, 'a base backup restores the whole cluster as it was')
    const target = flags['target-time'] === undefined ? {} : { target: targetTime(flags['target-time']) }
    return {
      mode: 'physical',
      backup,
      ...target,
      sideOnly: flags['side-only'] ?? false,
      ...(flags.repository?.length ? { repositories: flags.repository } : {}),
    }
  }
  if (flags['target-time'] !== undefined && mode !== 'pitr')
    throw new UsageError(
      '--target-time goes with a base backup (--mode full) or --mode pitr',
      `name a base backup: probe-ops restore ${LATEST_BASE} --mode full --target-time T`,
    )
  if (flags['side-only'] && mode !== 'pitr') throw new UsageError('--side-only goes with a base backup (--mode full) or --mode pitr')
  const repositories = flags.repository?.length ? { repositories: flags.repository } : {}
  if (flags['into-schema'] && mode !== 'partial') throw new UsageError('--into-schema goes with --mode partial')
  if ((flags['no-owner'] || flags['no-privileges']) && mode !== 'full')
    throw new UsageError(
      `--${flags['no-owner'] ? 'no-owner' : 'no-privileges'} goes with --mode full`,
      'partial restores only rows; pitr restores the cluster as it was',
    )
  switch (mode) {
    case 'full':
      return { mode, backup, ...repositories, noOwner: flags['no-owner'] ?? false, noPrivileges: flags['no-privileges'] ?? false }
    case 'partial': {
      const tables = flags.table ?? []
      if (tables.length === 0)
        throw new UsageError('--mode partial needs at least one --table', 'e.g. probe-ops restore BACKUP --mode partial --table task_results')
      return { mode, backup, ...repositories, tables, ...(flags['into-schema'] ? { intoSchema: flags['into-schema'] } : {}) }
    }
    case 'pitr':
      return { mode, backup, target: targetTime(flags['target-time']), sideOnly: flags['side-only'] ?? false }
    default:
      throw new UsageError(`unknown mode ${mode}`, 'use --mode full, partial or pitr')
  }
}

/**
 * A base backup selects the physical restore: `latest-base`, or a base backup's id, file or
 * manifest (backup base names them base-<time>). `latest` keeps naming the newest dump.
 */
export function namesBaseBackup(backup: string): boolean {
  return backup === LATEST_BASE || /^base-/.test(basename(backup.replace(/\/+$/, '')))
}

/** --target-time as a moment: any form Date reads, a zone included ("2026-11-25 03:15:00+00" as PostgreSQL prints now()). */
function targetTime(given: string | undefined): Date {
  if (!given) throw new UsageError('--mode pitr needs --target-time', 'e.g. --target-time "2026-11-25 03:15:00+00"')
  const target = new Date(given)
  if (Number.isNaN(target.getTime())) throw new UsageError(`--target-time "${given}" is not a time`, 'use ISO 8601 with a zone: 2026-11-25T03:15:00Z')
  return target
}
