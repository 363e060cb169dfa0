import type { Config } from '../config/load.js'
import { listDatabases, withAdmin } from '../systems/postgres-admin.js'

/** What an interrupted restore or verification can leave in PostgreSQL, and what to do with it. */
export interface DatabaseLeftover {
  database: string
  kind: 'unfinished-restore' | 'pre-restore' | 'verify-scratch' | 'connections-disabled'
  what: string
}

/** Names are derived from the live database's, so two platforms on one server do not mix. */
export function restoreName(database: string, at: Date): string {
  return `${database}_restore_${stamp(at)}`
}

export function preRestoreName(database: string, at: Date): string {
  return `${database}_pre_restore_${stamp(at)}`
}

export function verifyName(at: Date): string {
  return `probe_ops_verify_${stamp(at)}`
}

function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('T', '_')
    .replace(/\.\d+Z$/, '')
}

/** Whether `name` is one restoreName or preRestoreName made for the live database `database`. */
export function isRestoreCopyName(database: string, name: string, kind: 'restore' | 'pre-restore'): boolean {
  const prefix = kind === 'restore' ? `${database}_restore_` : `${database}_pre_restore_`
  return name.startsWith(prefix) && /^\d{8}_\d{6}$/.test(name.slice(prefix.length))
}

export async function findDatabaseLeftovers(config: Config): Promise<DatabaseLeftover[]> {
  return classifyLeftovers(config.postgres.database, await withAdmin(config.postgres, listDatabases))
}

/** The databases of a server (listDatabases) that an interrupted restore or verification of `live` left. Pure. */
export function classifyLeftovers(live: string, databases: readonly { name: string; allowConnections: boolean }[]): DatabaseLeftover[] {
  const found: DatabaseLeftover[] = []
  for (const { name, allowConnections } of databases) {
    if (name.startsWith(`${live}_restore_`))
      found.push({
        database: name,
        kind: 'unfinished-restore',
        what: 'a restore that never finished; the live database was not touched: `probe-ops restore --cleanup` drops it',
      })
    else if (name.startsWith(`${live}_pre_restore_`))
      found.push({
        database: name,
        kind: 'pre-restore',
        what: 'the live database as it was before a restore: keep it until the restore is known good, then drop it (`probe-ops restore --cleanup --drop-pre-restore`)',
      })
    else if (name.startsWith('probe_ops_verify_'))
      found.push({
        database: name,
        kind: 'verify-scratch',
        what: 'the scratch database of an interrupted restore test: `probe-ops restore --cleanup` drops it',
      })
    // Of any name: a restore killed during its swap can leave the live or the kept database closed.
    if ((name === live || name.startsWith(`${live}_pre_restore_`)) && !allowConnections)
      found.push({
        database: name,
        kind: 'connections-disabled',
        what: `${name === live ? 'the live database' : 'the database kept from before a restore'} refuses connections: a restore was interrupted during its swap; \`probe-ops restore --cleanup\` allows them again`,
      })
  }
  return found
}
