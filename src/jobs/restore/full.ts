import type { Client } from 'pg'
import { preRestoreName, restoreName } from '../../backups/leftovers.js'
import { compareCounts, createDatabase, dropDatabase, restoreInto } from '../../backups/verify.js'
import { StepFailure, describeError, formatSeconds } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { closePostgres, connectPostgres, quoteIdent } from '../../systems/postgres.js'
import { waitUntilReady } from '../../systems/readiness.js'
import { sleep } from '../../lib/time.js'
import type { RestoreContext } from './context.js'

/** Restores beside the live database: until the swap, the live one is not touched. */
export const restoreBesideStep: Step<RestoreContext> = {
  id: 'restore',
  title: 'Restore into a new database beside the live one',
  async run(context, run) {
    const name = restoreName(context.config.postgres.database, context.at)
    if (run.dryRun) return { summary: `would restore ${context.backup.manifest.id} into ${name}` }
    const started = performance.now()
    await createDatabase(context.config, name)
    context.state.restoredDatabase = name
    try {
      await restoreInto(context.config, context.runtimes, context.backup, name, run.signal)
    } catch (error) {
      await dropDatabase(context.config, name).catch(() => undefined)
      context.state.restoredDatabase = undefined
      throw error
    }
    const ms = Math.round(performance.now() - started)
    return { summary: `restored into ${name} in ${formatSeconds(ms)}`, data: { database: name, durationMs: ms } }
  },
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
      throw new StepFailure(`restored ${m.name} has ${m.actual ?? 'no table:'} rows where the manifest says ${m.expected}; the restored copy was dropped`, 'the live database was not touched; verify the backup (probe-ops backup verify --restore-test)', { mismatches: counts.mismatches })
    }
    return { summary: `${counts.compared} tables, every row count as in the manifest`, data: { tablesCompared: counts.compared } }
  },
}

async function adminClient(context: RestoreContext): Promise<Client> {
  return connectPostgres(context.config.postgres, { database: 'postgres', statementTimeoutMs: 30_000 })
}

/** Renames both databases in one transaction: at every moment one whole database is named live. */
async function swapNames(client: Client, live: string, incoming: string, outgoing: string): Promise<void> {
  await client.query(`alter database ${quoteIdent(live)} with allow_connections false`)
  await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [live])
  // Backends take a moment to go; a rename with one still there fails, so wait for them.
  for (let i = 0; i < 50; i++) {
    const left = await client.query(`select count(*)::int as n from pg_stat_activity where datname = $1`, [live])
    if (left.rows[0].n === 0) break
    await sleep(100)
  }
  await client.query('begin')
  try {
    await client.query(`alter database ${quoteIdent(live)} rename to ${quoteIdent(outgoing)}`)
    await client.query(`alter database ${quoteIdent(incoming)} rename to ${quoteIdent(live)}`)
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => undefined)
    await client.query(`alter database ${quoteIdent(live)} with allow_connections true`).catch(() => undefined)
    throw error
  }
  await client.query(`alter database ${quoteIdent(live)} with allow_connections true`)
  await client.query(`alter database ${quoteIdent(outgoing)} with allow_connections true`)
}

export const swapStep: Step<RestoreContext> = {
  id: 'swap',
  title: 'Stop the platform, swap the databases, start it again',
  async run(context, run) {
    const { config, runtimes } = context
    const live = config.postgres.database
    const incoming = context.state.restoredDatabase
    const outgoing = preRestoreName(live, context.at)
    const services = config.services.filter((s) => config.restore.stopServices.includes(s.name))
    if (run.dryRun || !incoming) return { summary: `would stop ${services.map((s) => s.name).join(', ') || 'no service'}, rename ${live} to ${outgoing} and ${restoreName(live, context.at)} to ${live}, and start them again` }
    const timeline: { at: string; event: string }[] = []
    const note = (event: string) => timeline.push({ at: new Date().toISOString(), event })
    const downStarted = performance.now()
    let client: Client
    try {
      for (const service of services) {
        await runtimes.stop(service)
        note(`stopped ${service.name}`)
      }
      client = await adminClient(context)
    } catch (error) {
      // Nothing was renamed: bring the platform back as it was.
      for (const service of services) await runtimes.start(service).catch(() => undefined)
      throw new StepFailure(`${describeError(error)}; nothing was swapped and the services were started again`, 'the live database was not touched', { timeline })
    }
    try {
      try {
        await swapNames(client, live, incoming, outgoing)
      } catch (error) {
        for (const service of services) await runtimes.start(service).catch(() => undefined)
        throw new StepFailure(`the swap failed: ${describeError(error)}; the live database keeps its name and the services were started again`, `the restored copy is kept as ${incoming}; probe-ops restore --cleanup drops it`, { timeline })
      }
      note(`renamed ${live} to ${outgoing}, ${incoming} to ${live}`)
      context.state.preRestoreDatabase = outgoing
      context.state.restoredDatabase = undefined
      try {
        for (const service of services) {
          await runtimes.start(service)
          const ready = await waitUntilReady(service, config)
          if (!ready.ready) throw new StepFailure(`${service.name} is not ready after the swap: ${ready.detail}`)
          note(`${service.name} ready`)
        }
      } catch (error) {
        // The platform does not work with the restored database: put the old one back.
        note(`rolling back: ${describeError(error)}`)
        for (const service of services) await runtimes.stop(service).catch(() => undefined)
        await swapNames(client, live, outgoing, incoming)
        context.state.preRestoreDatabase = undefined
        for (const service of services) await runtimes.start(service).catch(() => undefined)
        note(`rolled back: ${live} is the database of before the restore again; the restored copy is ${incoming}`)
        throw new StepFailure(`${describeError(error)}; the swap was rolled back`, `the restored copy is kept as ${incoming} for inspection; probe-ops restore --cleanup drops it`, { timeline })
      }
    } finally {
      await closePostgres(client)
    }
    const downtimeMs = Math.round(performance.now() - downStarted)
    return {
      summary: `${live} is the restored database; the old one is kept as ${outgoing}; services down for ${formatSeconds(downtimeMs)}`,
      data: { live, preRestore: outgoing, downtimeMs, timeline, safetyBackup: context.state.safetyBackup },
    }
  },
}
