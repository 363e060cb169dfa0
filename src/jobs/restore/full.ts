import type { Client } from 'pg'
import { preRestoreName, restoreName } from '../../backups/leftovers.js'
import {
  applyDatabaseProperties,
  createDatabaseSql,
  propertyRoles,
  readDatabaseProperties,
  type DatabaseProperties,
} from '../../backups/database-properties.js'
import { archiveRoles, compareCounts, dropDatabase, restoreInto } from '../../backups/verify.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import type { Config } from '../../config/load.js'
import { failpoint } from '../../lib/failpoint.js'
import type { Step, StepOutcome } from '../../report/runner.js'
import { closePostgres, connectPostgres, queryRows, quoteName } from '../../systems/postgres.js'
import { waitUntilReady } from '../../systems/readiness.js'
import { sleep } from '../../lib/time.js'
import type { ServiceRuntimes } from '../../systems/services.js'
import type { RestoreContext } from './context.js'
import { clearStopping, markSwap, noteStopping, startLeftStopped, type ServiceBack, type StoppedServices } from './stopped-services.js'

/** The recorded database's properties: from the manifest, else (an older backup) from the live database. */
async function propertiesToGive(
  context: RestoreContext,
  admin: Client,
): Promise<{ properties?: DatabaseProperties; source: 'backup' | 'live database' | 'none' }> {
  const recorded = context.backup.manifest.databaseProperties
  if (recorded) return { properties: recorded, source: 'backup' }
  const live = await readDatabaseProperties(admin, context.config.postgres.database)
  return live ? { properties: live, source: 'live database' } : { source: 'none' }
}

/** Every role the restore will hand objects or privileges to exists, and this user may do so. */
async function checkRoles(admin: Client, context: RestoreContext, properties: DatabaseProperties | undefined, signal: AbortSignal): Promise<string[]> {
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
  const rows = await queryRows<{ name: string; exists: boolean; member: boolean }>(
    admin,
    // From PostgreSQL 16 a member may be denied SET ROLE, and OWNER TO needs it.
    `select n.name, r.oid is not null as exists,
            r.oid is not null and pg_has_role(current_user, r.oid, case when current_setting('server_version_num')::int >= 160000 then 'SET' else 'MEMBER' end) as member
       from unnest($1::text[]) n(name) left join pg_roles r on r.rolname = n.name`,
    [needed],
  )
  const missing = rows.filter((r) => !r.exists).map((r) => r.name)
  if (missing.length > 0) {
    throw new StepFailure(
      `the backup gives objects or privileges to ${missing.length === 1 ? 'role' : 'roles'} ${missing.join(', ')}, which ${missing.length === 1 ? 'does' : 'do'} not exist on this server`,
      `the live database was not touched; create ${missing.length === 1 ? 'it' : 'them'} first (CREATE ROLE ...), or restore without owners and privileges: --no-owner --no-privileges`,
      { missingRoles: missing },
    )
  }
  const [me] = await queryRows<{ superuser: boolean; name: string }>(
    admin,
    `select rolsuper as superuser, current_user as name from pg_roles where rolname = current_user`,
  )
  const foreign = me?.superuser
    ? []
    : rows.filter((r) => owners && !r.member && (archive.owners.includes(r.name) || r.name === properties?.owner)).map((r) => r.name)
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
function describeGiven(context: RestoreContext, properties: DatabaseProperties, source: string): string {
  const { owners, privileges } = context.ownership
  const parts = [owners ? `owned by ${properties.owner}` : `owned by ${context.config.postgres.user} (--no-owner)`]
  parts.push(
    privileges
      ? `privileges and ${properties.settings.length} settings from the ${source}`
      : `${properties.settings.length} settings from the ${source}; no privileges (--no-privileges: PUBLIC may connect)`,
  )
  return parts.join('; ')
}

/** Restores beside the live database: until the swap, the live one is not touched. */
export const restoreBesideStep: Step<RestoreContext> = {
  id: 'restore',
  title: 'Restore into a new database beside the live one',
  cleanupMs: 30_000,
  async run(context, run) {
    const name = restoreName(context.config.postgres.database, context.at)
    if (run.dryRun) return { summary: `would restore ${context.backup.manifest.id} into ${name}` }
    const started = performance.now()
    const admin = await connectPostgres(context.config.postgres, { database: 'postgres', statementTimeoutMs: 0 })
    try {
      const { properties, source } = await propertiesToGive(context, admin)
      const roles = await checkRoles(admin, context, properties, run.signal)
      const [server] = await queryRows<{ version: number }>(admin, `select current_setting('server_version_num')::int as version`)
      run.signal.throwIfAborted()
      await admin.query(createDatabaseSql(admin, name, properties, { owners: context.ownership.owners, serverVersion: server!.version }))
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
      if (!properties || given.failed.length > 0) {
        const message = properties
          ? `${given.failed.length} database ${given.failed.length === 1 ? 'property' : 'properties'} could not be given back: ${given.failed[0]}`
          : "the backup does not record the database's owner, privileges and settings, and there is no live database to copy them from"
        return {
          status: 'warning',
          summary: `restored into ${name} in ${formatSeconds(ms)}; ${message}`,
          data,
          error: { message, hint: "check the restored database's owner, privileges (\\l) and settings (\\drds) before relying on it" },
        }
      }
      return { summary: `restored into ${name} in ${formatSeconds(ms)}; ${describeGiven(context, properties, source)}`, data }
    } catch (error) {
      if (context.state.restoredDatabase) {
        const left = await dropRestored(context)
        if (left) throw new StepFailure(`${describeError(error)}; ${left}`, 'the live database was not touched; probe-ops restore --cleanup drops the copy')
      }
      throw error
    } finally {
      await closePostgres(admin)
    }
  },
  undo: async (context) =>
    context.state.restoredDatabase ? ((await dropRestored(context)) ?? `dropped ${restoreName(context.config.postgres.database, context.at)}`) : undefined,
}

/** Drops the restored copy that will not be swapped in; says so when it could not. */
async function dropRestored(context: RestoreContext): Promise<string | undefined> {
  const name = context.state.restoredDatabase!
  try {
    await dropDatabase(context.config, name)
    context.state.restoredDatabase = undefined
    return undefined
  } catch (error) {
    return `the restored copy ${name} could not be dropped (${describeError(error)})`
  }
}

export const checkRestoredStep: Step<RestoreContext> = {
  id: 'check',
  title: 'Check tables and row counts against the manifest',
  async run(context, run) {
    const name = context.state.restoredDatabase
    if (run.dryRun || !name) return { summary: 'would compare every table and row count with the manifest' }
    const counts = await compareCounts(context.config, name, context.backup.manifest.tables)
    if (!counts.ok) {
      await dropDatabase(context.config, name).catch(() => undefined)
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

/**
 * What `restore --cleanup` does first for a restore killed while rolling its swap back: the
 * platform did not come up on the restored database, so the database kept from before takes the
 * live name again (unless that already happened). Says what it does, or nothing.
 */
export async function finishRollback(config: Config, stopped: StoppedServices, dryRun: boolean): Promise<string | undefined> {
  const swap = stopped.swap
  if (swap?.phase !== 'rolling-back') return undefined
  const client = await adminClient(config)
  try {
    if (!(await databaseExists(client, swap.preRestore))) return undefined
    const did = `finish the interrupted rollback: ${swap.preRestore} takes the name ${swap.live} again, the restored copy becomes ${swap.restored}`
    if (!dryRun) await swapNames(client, swap.live, { incoming: swap.preRestore, outgoing: swap.restored })
    return did
  } finally {
    await closePostgres(client)
  }
}

/**
 * For a restore killed after its swap, before the platform was up: start it, and if it does not
 * come up on the restored database, roll the swap back as the restore itself would have.
 */
export async function startAfterSwap(
  config: Config,
  runtimes: ServiceRuntimes,
  stopped: StoppedServices,
  dryRun: boolean,
): Promise<{ action: string; services: ServiceBack[] }> {
  const swap = stopped.swap
  try {
    return await startLeftStopped(config, runtimes, stopped, dryRun)
  } catch (error) {
    if (dryRun || swap?.phase !== 'swapped') throw error
    const client = await adminClient(config)
    try {
      if (!(await databaseExists(client, swap.preRestore))) throw error
      for (const service of config.services.filter((s) => stopped.services.includes(s.name))) await runtimes.stop(service).catch(() => undefined)
      await swapNames(client, swap.live, { incoming: swap.preRestore, outgoing: swap.restored })
    } finally {
      await closePostgres(client)
    }
    const started = await startLeftStopped(config, runtimes, stopped, dryRun)
    return {
      action: `roll the swap back, since the platform did not come up on the restored database (${describeError(error)}): ${swap.preRestore} takes the name ${swap.live} again, the restored copy becomes ${swap.restored}; ${started.action}`,
      services: started.services,
    }
  }
}

async function adminClient(config: Config): Promise<Client> {
  return connectPostgres(config.postgres, { database: 'postgres', statementTimeoutMs: 30_000 })
}

/**
 * Renames in one transaction: the live database (if there is one) to `outgoing`, and `incoming`
 * (if given) to the live name. At every moment the live name is one whole database, or none
 * when there was none before.
 */
async function swapNames(client: Client, live: string, names: { incoming?: string; outgoing?: string }): Promise<void> {
  const { incoming, outgoing } = names
  if (outgoing) {
    await client.query(`alter database ${quoteName(live)} with allow_connections false`)
    await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [live])
    // Backends take a moment to go; a rename with one still there fails, so wait for them.
    for (let i = 0; i < 50; i++) {
      const left = await client.query(`select count(*)::int as n from pg_stat_activity where datname = $1`, [live])
      if (left.rows[0].n === 0) break
      await sleep(100)
    }
  }
  await client.query('begin')
  try {
    if (outgoing) await client.query(`alter database ${quoteName(live)} rename to ${quoteName(outgoing)}`)
    if (incoming) await client.query(`alter database ${quoteName(incoming)} rename to ${quoteName(live)}`)
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => undefined)
    if (outgoing) await client.query(`alter database ${quoteName(live)} with allow_connections true`).catch(() => undefined)
    throw error
  }
  if (incoming) await client.query(`alter database ${quoteName(live)} with allow_connections true`)
  if (outgoing) await client.query(`alter database ${quoteName(outgoing)} with allow_connections true`)
}

async function databaseExists(client: Client, name: string): Promise<boolean> {
  return (await queryRows(client, 'select 1 from pg_database where datname = $1', [name])).length > 0
}

export const swapStep: Step<RestoreContext> = {
  id: 'swap',
  title: 'Stop the platform, swap the databases, start it again',
  async run(context, run) {
    const { config } = context
    const live = config.postgres.database
    const incoming = context.state.restoredDatabase
    const outgoing = preRestoreName(live, context.at)
    const services = config.services.filter((s) => config.restore.stopServices.includes(s.name))
    if (run.dryRun || !incoming)
      return {
        summary: `would stop ${services.map((s) => s.name).join(', ') || 'no service'}, rename ${live} to ${outgoing} and ${restoreName(live, context.at)} to ${live}, and start them again`,
      }
    // Ctrl-C, a kill or --timeout while the platform is down must not leave it down: the swap
    // finishes, or rolls itself back, before the run ends.
    return run.critical(
      'the swap',
      async () => {
        // Killed while they are down, `restore --cleanup` starts them again from this note.
        await noteStopping(
          config,
          services.map((s) => s.name),
          { live, restored: incoming, preRestore: outgoing, phase: 'stopping' },
        )
        try {
          return await swapWithServicesDown(context, { live, incoming, outgoing, services })
        } finally {
          // Whatever the outcome, the note goes only once every service runs again.
          const down: string[] = []
          for (const service of services) if (!(await context.runtimes.status(service).catch(() => ({ running: false }))).running) down.push(service.name)
          if (down.length === 0) await clearStopping(config)
        }
      },
      { boundMs: downtimeBoundMs(services), repair: 'probe-ops restore --cleanup finishes or undoes the swap and starts the platform' },
    )
  },
}

/**
 * The longest a swap can keep the platform down, from the bounds it waits on: each service
 * stopped, started and waited for, twice when the swap is rolled back, and a minute for the
 * database's own work.
 */
export function downtimeBoundMs(services: Config['services']): number {
  return 60_000 + 2 * services.reduce((sum, s) => sum + s.stopGraceSeconds * 1000 + s.readinessTimeoutMs + 30_000, 0)
}

/** The swap itself: services stopped, names swapped, services started (or the swap rolled back). */
async function swapWithServicesDown(
  context: RestoreContext,
  { live, incoming, outgoing, services }: { live: string; incoming: string; outgoing: string; services: Config['services'] },
): Promise<StepOutcome> {
  const { config, runtimes } = context
  const timeline: { at: string; event: string }[] = []
  const note = (event: string) => timeline.push({ at: new Date().toISOString(), event })
  const downStarted = performance.now()
  let client: Client
  try {
    for (const service of services) {
      await runtimes.stop(service)
      note(`stopped ${service.name}`)
      await failpoint('restore-swap-services-stopped')
    }
    client = await adminClient(context.config)
  } catch (error) {
    // Nothing was renamed: bring the platform back as it was.
    for (const service of services) await runtimes.start(service).catch(() => undefined)
    throw new StepFailure(`${describeError(error)}; nothing was swapped and the services were started again`, 'the live database was not touched', { timeline })
  }
  let hadLive = true
  try {
    try {
      // The disaster case: no live database to keep, the restored one just takes its name.
      hadLive = await databaseExists(client, live)
      await swapNames(client, live, { incoming, outgoing: hadLive ? outgoing : undefined })
    } catch (error) {
      for (const service of services) await runtimes.start(service).catch(() => undefined)
      throw new StepFailure(
        `the swap failed: ${describeError(error)}; the live database keeps its name and the services were started again`,
        `the restored copy is kept as ${incoming}; probe-ops restore --cleanup drops it`,
        { timeline },
      )
    }
    note(hadLive ? `renamed ${live} to ${outgoing}, ${incoming} to ${live}` : `there was no ${live}: renamed ${incoming} to ${live}`)
    await markSwap(
      config,
      services.map((s) => s.name),
      { live, restored: incoming, preRestore: outgoing, phase: 'swapped' },
    )
    await failpoint('restore-swap-swapped')
    if (hadLive) context.state.preRestoreDatabase = outgoing
    context.state.restoredDatabase = undefined
    try {
      for (const service of services) {
        await runtimes.start(service)
        await failpoint('restore-swap-starting')
        const ready = await waitUntilReady(service, config, runtimes)
        if (!ready.ready) throw new StepFailure(`${service.name} is not ready after the swap: ${ready.detail}`)
        note(`${service.name} ready`)
      }
    } catch (error) {
      if (!hadLive) {
        // There is nothing to go back to: without the restored database the platform is down for sure.
        note(`${describeError(error)}; kept the restored ${live}: there was none before to go back to`)
        throw new StepFailure(
          `${describeError(error)}; the restored database stays as ${live}, since there was none before`,
          `find why ${services.map((s) => s.name).join(', ')} is not ready (probe-ops diagnose); the database itself was checked against the manifest`,
          { timeline },
        )
      }
      // The platform does not work with the restored database: put the old one back.
      note(`rolling back: ${describeError(error)}`)
      await markSwap(
        config,
        services.map((s) => s.name),
        { live, restored: incoming, preRestore: outgoing, phase: 'rolling-back' },
      )
      for (const service of services) await runtimes.stop(service).catch(() => undefined)
      await failpoint('restore-swap-rolling-back')
      await swapNames(client, live, { incoming: outgoing, outgoing: incoming })
      context.state.preRestoreDatabase = undefined
      for (const service of services) await runtimes.start(service).catch(() => undefined)
      note(`rolled back: ${live} is the database of before the restore again; the restored copy is ${incoming}`)
      throw new StepFailure(
        `${describeError(error)}; the swap was rolled back`,
        `the restored copy is kept as ${incoming} for inspection; probe-ops restore --cleanup drops it`,
        { timeline },
      )
    }
  } finally {
    await closePostgres(client)
  }
  const downtimeMs = Math.round(performance.now() - downStarted)
  const kept = hadLive ? `the old one is kept as ${outgoing}` : `there was no ${live} before`
  return {
    summary: `${live} is the restored database; ${kept}; services down for ${formatSeconds(downtimeMs)}`,
    data: { live, ...(hadLive ? { preRestore: outgoing } : {}), downtimeMs, timeline, safetyBackup: context.state.safetyBackup },
  }
}
