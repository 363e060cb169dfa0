import { PassThrough, Transform, type TransformCallback } from 'node:stream'
import { finished } from 'node:stream/promises'
import { compareCounts, dumpInput } from '../../backups/verify.js'
import { StepFailure } from '../../errors.js'
import type { StepDefinition, StepOutcome } from '../../report/outcome.js'
import { connectionArgs, runPgTool, toolError, type PgToolResult } from '../../systems/pg-tools.js'
import { quoteIdent, withPostgres } from '../../systems/postgres.js'
import type { PartialRestoreContext } from './context.js'
import type { RestoreTablesData, TablesData } from './data.js'
import { resolveTables } from './planning.js'
import { mergeScript, parseMergeResult, planTables, readTableShapes, type MergeResult, type TablePlan } from './table-merge.js'

/**
 * The script psql runs: the SQL that makes room for the data pg_restore writes, that data (its
 * COPY lines pointed elsewhere for a side-by-side restore or a merge), and, only once pg_restore
 * is known to have written everything (complete()), the SQL that uses it and the commit.
 */
class RestoreScript extends Transform {
  #started = false
  #partial = ''
  #complete = false
  /** The columns each COPY named, by the table it was pointed at. */
  readonly copied = new Map<string, string[]>()
  /** Why the epilogue could not be written: the input then ends without a commit. */
  refused: Error | undefined

  constructor(
    private readonly prefix: string,
    private readonly rename?: Map<string, string>,
    private readonly epilogue: (copied: Map<string, string[]>) => string = () => '',
  ) {
    super()
  }

  /** pg_restore wrote everything: the script may commit. */
  complete(): void {
    this.#complete = true
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#started) {
      this.push(this.prefix)
      this.#started = true
    }
    if (!this.rename) return callback(null, chunk)
    const text = this.#partial + chunk.toString('utf8')
    const lines = text.split('\n')
    this.#partial = lines.pop()!
    for (const line of lines) this.push(`${this.rewrite(line)}\n`)
    callback()
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#started) this.push(this.prefix)
    if (this.#partial) this.push(this.rewrite(this.#partial))
    // Without a commit psql ends its session at the end of input, and the server rolls back.
    if (this.#complete) {
      try {
        this.push(`${this.epilogue(this.copied)}\ncommit;\n`)
      } catch (error) {
        this.refused = error instanceof Error ? error : new Error(String(error))
      }
    }
    callback()
  }

  private rewrite(line: string): string {
    if (!line.startsWith('COPY ')) return line
    for (const [from, to] of this.rename!) {
      if (!line.startsWith(`COPY ${from} `)) continue
      const rest = line.slice(`COPY ${from} `.length)
      this.copied.set(to, copyColumns(rest))
      return `COPY ${to} ${rest}`
    }
    return line
  }
}

/** The column names of `(id, "Name", ...) FROM stdin;`, as pg_restore writes them (quoted where needed). */
export function copyColumns(rest: string): string[] {
  const list = /^\((.*)\) FROM stdin;$/.exec(rest)?.[1] ?? ''
  return [...list.matchAll(/"((?:[^"]|"")*)"|([^,\s]+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!))
}

/** Both spellings pg_restore may give a table in its COPY lines (quoted only where needed), pointed elsewhere. */
function copyTargets(tables: string[], target: (table: string) => string): Map<string, string> {
  return new Map(tables.flatMap((t) => [t, quoteIdent(t)].map((from) => [from, target(t)] as [string, string])))
}

function describePlan(plan: TablePlan): string {
  const merged = plan.merge.map(
    (t) =>
      `${t.name} merged row by row on (${t.key!.join(', ')}), referenced by ${[...new Set(t.referencedBy.map((r) => r.table).filter((r) => r !== t.name))].join(', ')}`,
  )
  const replaced = plan.replace.map((t) => `${t.name} emptied and reloaded`)
  return [...merged, ...replaced].join('; ')
}

/** The rows a merge wrote and kept, per table, in a few words. */
function describeMerge(result: MergeResult, plan: TablePlan, manifestRows: Map<string, number>): string {
  const merged = plan.merge.map((t) => {
    const count = (action: string) => result.rows.filter((r) => r.table === t.name && r.action === action).reduce((sum, r) => sum + Number(r.rows), 0)
    return `${t.name}: ${count('updated')} updated, ${count('inserted')} inserted, ${count('deleted')} deleted${count('kept') ? `, ${count('kept')} kept` : ''}`
  })
  const replaced = plan.replace.map((t) => `${t.name}: ${(manifestRows.get(t.name) ?? 0).toLocaleString('en-US')} rows reloaded`)
  return [...merged, ...replaced].join('; ')
}

/** Why psql rolled the restore back, with what to do, for the conflicts a merge can meet. */
function rolledBack(tables: string[], applied: PgToolResult): StepFailure {
  const why = toolError(applied)
  const failed = `the restore of ${tables.join(', ')} was rolled back`
  const detail = /DETAIL:\s+(Key \(.*)/.exec(applied.stderr)?.[1]?.replace(/\.$/, '')
  const constraint = /violates (?:foreign key|unique) constraint "([^"]+)"/.exec(why)?.[1]
  const cause = `constraint ${constraint}${detail ? `: ${detail}` : ''}`
  if (constraint && /violates foreign key constraint/.test(why)) {
    const table = /is not present in table "([^"]+)"/.exec(detail ?? '')?.[1]
    return new StepFailure(
      `${failed}: the backup's rows reference rows that no longer exist (${cause})`,
      `nothing was changed; restore ${table ? `table ${table}` : 'the referenced table'} as well (another --table), or restore beside the live tables with --into-schema NAME`,
    )
  }
  if (constraint && /duplicate key value/.test(why)) {
    return new StepFailure(
      `${failed}: a row of the backup needs a value that a live row holds (${cause})`,
      'nothing was changed; that live row is not in the backup and other rows reference it, so it is kept: change its value or move what references it, then restore again, or restore beside the live tables with --into-schema NAME',
    )
  }
  return new StepFailure(`${failed}: ${why}`, 'the live database was not changed')
}

/**
 * How each table is restored, decided once (by the `tables` step, before the safety backup, so
 * that a table that cannot be restored is refused before anything runs) and kept in the state.
 */
async function tablePlanOf(context: PartialRestoreContext, tables: string[]): Promise<TablePlan> {
  context.state.tablePlan ??= planTables(await withPostgres(context.config.postgres, (client) => readTableShapes(client, tables)))
  return context.state.tablePlan
}

/** A partial restore's first step: how each table can be restored. */
export const planTablesStep: StepDefinition<PartialRestoreContext, TablesData> = {
  async run(context) {
    const tables = resolveTables(context.tables, context.backup.manifest.tables)
    if (context.intoSchema)
      return { summary: `${tables.join(', ')} into schema ${context.intoSchema}, beside the live tables`, data: { tables, intoSchema: context.intoSchema } }
    const chosen = await tablePlanOf(context, tables)
    return {
      summary: describePlan(chosen),
      data: {
        replace: chosen.replace.map((t) => t.name),
        merge: chosen.merge.map((t) => ({ table: t.name, key: t.key!, referencedBy: t.referencedBy.map((r) => `${r.table} (${r.constraint})`) })),
      },
    }
  },
}

/** The restore of the chosen tables, in one transaction. */
export const restoreTables: StepDefinition<PartialRestoreContext, RestoreTablesData> = {
  async run(context, run) {
    const { config, runtimes, backup } = context
    const tables = resolveTables(context.tables, backup.manifest.tables)
    const target = context.intoSchema
    const chosen = target ? undefined : await tablePlanOf(context, tables)
    if (run.dryRun)
      return {
        summary: target
          ? `would restore ${tables.join(', ')} into schema ${target} beside the live tables`
          : `would restore, in one transaction: ${describePlan(chosen!)}`,
      }
    const manifestRows = new Map((backup.manifest.tables ?? []).map((t) => [t.name, t.rows]))
    const merge = chosen && chosen.merge.length > 0 ? mergeScript(chosen, manifestRows) : undefined
    const quoted = tables.map(quoteIdent)
    // pg_restore writes `COPY public.name`, quoting only names that need it: match both spellings.
    const rename = target
      ? copyTargets(tables, (t) => `${quoteIdent(target)}.${quoteIdent(t.split('.')[1]!)}`)
      : merge
        ? copyTargets(tables, (t) => merge.staging.get(t)!)
        : undefined
    // The transaction is committed only once pg_restore has written everything: psql's own
    // --single-transaction commits at the end of its input, and a pg_restore that fails (or a
    // stream closed by an abort) ends the input early, which would commit a half-filled table.
    const prefix =
      'begin;\n' +
      (target
        ? `create schema if not exists ${quoteIdent(target)};\n${tables.map((t) => `create table ${quoteIdent(target)}.${quoteIdent(t.split('.')[1]!)} (like ${quoteIdent(t)} including all);`).join('\n')}\n`
        : merge
          ? merge.before
          : `truncate ${quoted.join(', ')};\n`)
    const input = dumpInput(config, backup)
    const script = new RestoreScript(prefix, rename, merge?.after)
    const selection = tables.flatMap((t) => ['-n', t.split('.')[0]!, '-t', t.split('.')[1]!])
    let printed = ''
    const output = new PassThrough().on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')))
    const psql = runPgTool(
      config,
      runtimes,
      'psql',
      [...connectionArgs(config), '-d', config.postgres.database, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-f', '-'],
      { stdin: script, stdout: output, signal: run.signal },
    )
    const toScript = new PassThrough()
    toScript.pipe(script)
    // psql stopping at an error (a row gone since, a conflict a merge meets) leaves pg_restore
    // writing into pipes that nobody reads any more: its output then goes nowhere and it is
    // stopped, and psql's error is the one said.
    const psqlEnded = new AbortController()
    const stopRestoring = (): void => {
      psqlEnded.abort()
      toScript.unpipe(script)
      toScript.resume()
    }
    void psql.then(stopRestoring, stopRestoring)
    let dumped: PgToolResult | undefined
    let psqlFirst = false
    try {
      dumped = await runPgTool(config, runtimes, 'pg_restore', ['--data-only', ...selection, '-f', '-', ...input.args], {
        stdin: input.stdin as never,
        stdout: toScript,
        signal: AbortSignal.any([run.signal, psqlEnded.signal]),
      }).catch((error: unknown) => {
        if (!psqlEnded.signal.aborted || run.signal.aborted) throw error
        return { exitCode: -1, stderr: 'stopped: psql had ended' }
      })
      psqlFirst = psqlEnded.signal.aborted
      if (dumped.exitCode === 0 && !run.signal.aborted) script.complete()
    } finally {
      toScript.end()
    }
    const applied = await psql
    // psql's output is piped on into `output`: all of it has arrived once that ends.
    await finished(output.end())
    if (dumped.exitCode !== 0 && !(psqlFirst && applied.exitCode !== 0))
      throw new StepFailure(`pg_restore could not read the tables: ${toolError(dumped)}`, 'the live database was not changed')
    if (script.refused) throw script.refused
    if (applied.exitCode !== 0) throw rolledBack(tables, applied)
    if (merge) return mergedOutcome(chosen!, parseMergeResult(printed), manifestRows)
    const expected = (backup.manifest.tables ?? [])
      .filter((t) => tables.includes(t.name))
      .map((t) => ({ name: target ? `${target}.${t.name.split('.')[1]}` : t.name, rows: t.rows }))
    const counts = expected.length ? await compareCounts(config, config.postgres.database, expected) : { ok: true, compared: 0, mismatches: [] }
    if (!counts.ok)
      throw new StepFailure(
        `after the restore ${counts.mismatches[0]!.name} has ${counts.mismatches[0]!.actual} rows, the backup had ${counts.mismatches[0]!.expected}`,
        'something wrote to the table meanwhile, or the dump is inconsistent',
      )
    return {
      summary: `${target ? `restored into schema ${target}` : 'replaced'}: ${expected.map((t) => `${t.name} ${t.rows.toLocaleString('en-US')} rows`).join(', ')}`,
      data: { tables, intoSchema: target, rows: expected },
    }
  },
}

/** A merge's report: what it wrote per table, and the rows it kept because others reference them. */
function mergedOutcome(plan: TablePlan, result: MergeResult | undefined, manifestRows: Map<string, number>): StepOutcome<RestoreTablesData> {
  // psql exited 0 after the commit: the restore happened, only its account was lost.
  if (!result)
    return {
      summary: 'restored, but psql printed no account of the rows written',
      findings: [
        {
          id: 'merge-unaccounted',
          severity: 'medium',
          message: 'the merge committed without its account of rows',
          fix: 'compare the tables with the backup (--into-schema) if in doubt',
        },
      ],
    }
  const summary = describeMerge(result, plan, manifestRows)
  const data = {
    merged: plan.merge.map((t) => t.name),
    replaced: plan.replace.map((t) => t.name),
    rows: result.rows,
    kept: result.kept,
    keptTotal: result.keptTotal,
  }
  if (result.keptTotal === 0) return { summary, data }
  const first = result.kept[0]!
  const message = `${result.keptTotal} ${result.keptTotal === 1 ? 'row' : 'rows'} not in the backup kept, since other rows reference ${result.keptTotal === 1 ? 'it' : 'them'} (first: ${first.table} ${Object.entries(
    first.key,
  )
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ')}, referenced by ${first.referencedBy.join(', ')})`
  return {
    summary: `${summary}; ${message}`,
    findings: [
      {
        id: 'rows-kept',
        severity: 'medium',
        subject: [...new Set(result.kept.map((k) => k.table))].join(', '),
        message,
        fix: 'data.kept lists them (table, key, referencing tables); delete them by hand once nothing needs them, or restore the referencing tables with them',
      },
    ],
    data,
  }
}
