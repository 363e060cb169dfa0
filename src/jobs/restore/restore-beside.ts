import type { Client } from 'pg'
import {
  applyDatabaseProperties,
  createDatabaseSql,
  propertyRoles,
  readDatabaseProperties,
  type DatabaseProperties,
} from '../../backups/database-properties.js'
import { restoreName } from '../../backups/leftovers.js'
import { archiveRoles, compareCounts, restoreInto } from '../../backups/verify.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import type { StepDefinition } from '../../report/outcome.js'
import { createDatabase, currentRole, dropDatabase, rolesAvailable, serverVersionNumber, withAdmin } from '../../systems/postgres-admin.js'
import type { FullRestoreContext } from './context.js'
import type { CheckData, RestoreData } from './data.js'

/**
 * A full restore's copy, built beside the live database and checked against the manifest: until
 * the swap, the live database is not touched.
 */

/** The recorded database's properties: from the manifest, else (an older backup) from the live database. */
async function propertiesToGive(
  context: FullRestoreContext,
  admin: Client,
): Promise<{ properties?: DatabaseProperties; source: 'backup' | 'live database' | 'none' }> {
  const recorded = context.backup.manifest.databaseProperties
  if (recorded) return { properties: recorded, source: 'backup' }
  const live = await readDatabaseProperties(admin, context.config.postgres.database)
  return live ? { properties: live, source: 'live database' } : { source: 'none' }
}

/** Every role the restore will hand objects or privileges to exists, and this user may do so. */
async function checkRoles(admin: Client, context: FullRestoreContext, properties: DatabaseProperties | undefined, signal: AbortSignal): Promise<string[]> {
  const { owners, privileges } = context.ownership
  const archive = owners || privileges ? await archiveRoles(context.config, context.runtimes, context.backup, signal) : { owners: [], grantees: [] }
  const needed = [
    ...new Set([
      ...(owners ? archive.owners : []),
      ...(privileges ? archive.grantees : []),
      ...(properties ? propertyRoles(properties, context.ownership) : []),
    ]),
  ].sort()
  if (needed.length === 0) return needed
  const roles = await rolesAvailable(admin, needed)
  const missing = roles.filter((r) => !r.exists).map((r) => r.name)
  if (missing.length > 0) {
    throw new StepFailure(
      `the backup gives objects or privileges to ${missing.length === 1 ? 'role' : 'roles'} ${missing.join(', ')}, which ${missing.length === 1 ? 'does' : 'do'} not exist on this server`,
      `the live database was not touched; create ${missing.length === 1 ? 'it' : 'them'} first (CREATE ROLE ...), or restore without owners and privileges: --no-owner --no-privileges`,
      { missingRoles: missing },
    )
  }
  const me = await currentRole(admin)
  const foreign = me?.superuser
    ? []
    : roles.filter((r) => owners && !r.member && (archive.owners.includes(r.name) || r.name === properties?.owner)).map((r) => r.name)
  if (foreign.length > 0) {
    throw new StepFailure(
      `${me?.name ?? 'this user'} may not give objects to ${foreign.join(', ')} (neither a superuser nor a member of ${foreign.length === 1 ? 'that role' : 'those roles'})`,
      'the live database was not touched; restore as a superuser or a member of those roles, or with --no-owner',
      { foreignRoles: foreign },
    )
  }
  return needed
}

/** What the restore step's summary says of the database-level properties it gave back. */
function describeGiven(context: FullRestoreContext, properties: DatabaseProperties, source: string): string {
  const { owners, privileges } = context.ownership
  const parts = [owners ? `owned by ${properties.owner}` : `owned by ${context.config.postgres.user} (--no-owner)`]
  parts.push(
    privileges
      ? `privileges and ${properties.settings.length} settings from the ${source}`
      : `${properties.settings.length} settings from the ${source}; no privileges (--no-privileges: PUBLIC may connect)`,
  )
  return parts.join('; ')
}

/** Drops the restored copy that will not be swapped in; says so when it could not. */
async function dropRestored(context: FullRestoreContext): Promise<string | undefined> {
  const name = context.state.restoredDatabase!
  try {
    await withAdmin(context.config.postgres, (admin) => dropDatabase(admin, name), { statementTimeoutMs: 0 })
    context.state.restoredDatabase = undefined
    return undefined
  } catch (error) {
    return `the restored copy ${name} could not be dropped (${describeError(error)})`
  }
}

export const restoreBeside: StepDefinition<FullRestoreContext, RestoreData> = {
  cleanupMs: 30_000,
  async run(context, run) {
    const name = restoreName(context.config.postgres.database, context.at)
    if (run.dryRun) return { summary: `would restore ${context.backup.manifest.id} into ${name}` }
    const started = performance.now()
    try {
      return await withAdmin(
        context.config.postgres,
        async (admin) => {
          const { properties, source } = await propertiesToGive(context, admin)
          const roles = await checkRoles(admin, context, properties, run.signal)
          const serverVersion = await serverVersionNumber(admin)
          run.signal.throwIfAborted()
          await createDatabase(admin, name, createDatabaseSql(admin, name, properties, { owners: context.ownership.owners, serverVersion }))
          context.state.restoredDatabase = name
          await restoreInto(context.config, context.runtimes, context.backup, name, context.ownership, run.signal)
          const given = properties ? await applyDatabaseProperties(admin, name, properties, context.ownership) : { applied: 0, failed: [] }
          // Stopped meanwhile (the safety backup failed): the copy goes, as if never made.
          run.signal.throwIfAborted()
          const ms = Math.round(performance.now() - started)
          const data = {
            database: name,
            durationMs: ms,
            properties: source,
            owner: context.ownership.owners ? properties?.owner : undefined,
            roles,
            propertiesFailed: given.failed,
          }
          const restored = `restored into ${name} in ${formatSeconds(ms)}`
          if (properties && given.failed.length === 0) return { summary: `${restored}; ${describeGiven(context, properties, source)}`, data }
          const message = properties
            ? `${given.failed.length} database ${given.failed.length === 1 ? 'property' : 'properties'} could not be given back: ${given.failed[0]}`
            : "the backup does not record the database's owner, privileges and settings, and there is no live database to copy them from"
          return {
            summary: `${restored}; ${message}`,
            findings: [
              {
                id: properties ? 'database-properties-failed' : 'database-properties-unknown',
                severity: 'medium',
                subject: name,
                message,
                fix: "check the restored database's owner, privileges (\\l) and settings (\\drds) before relying on it",
              },
            ],
            data,
          }
        },
        { statementTimeoutMs: 0 },
      )
    } catch (error) {
      if (context.state.restoredDatabase) {
        const left = await dropRestored(context)
        if (left) throw new StepFailure(`${describeError(error)}; ${left}`, 'the live database was not touched; probe-ops restore --cleanup drops the copy')
      }
      throw error
    }
  },
  undo: async (context) =>
    context.state.restoredDatabase ? ((await dropRestored(context)) ?? `dropped ${restoreName(context.config.postgres.database, context.at)}`) : undefined,
}

export const checkRestored: StepDefinition<FullRestoreContext, CheckData> = {
  async run(context, run) {
    const name = context.state.restoredDatabase
    if (run.dryRun || !name) return { summary: 'would compare every table and row count with the manifest' }
    const counts = await compareCounts(context.config, name, context.backup.manifest.tables)
    if (!counts.ok) {
      await dropRestored(context)
      const m = counts.mismatches[0]!
      throw new StepFailure(
        `restored ${m.name} has ${m.actual ?? 'no table:'} rows where the manifest says ${m.expected}; the restored copy was dropped`,
        'the live database was not touched; verify the backup (probe-ops backup verify --restore-test)',
        { mismatches: counts.mismatches },
      )
    }
    return { summary: `${counts.compared} tables, every row count as in the manifest`, data: { tablesCompared: counts.compared } }
  },
}
