import { PassThrough, Transform, type TransformCallback } from 'node:stream'
import { dumpInput, compareCounts } from '../../backups/verify.js'
import { StepFailure } from '../../errors.js'
import type { Step } from '../../report/runner.js'
import { quoteIdent } from '../../systems/postgres.js'
import { connectionArgs, runPgTool, toolError, type PgToolResult } from '../../systems/pg-tools.js'
import type { RestoreContext } from './context.js'

export interface PartialOptions {
  /** schema-qualified names, as the manifest lists them */
  tables: string[]
  intoSchema?: string
}

/** The manifest's name of a table given as `t` or `schema.t`. */
export function resolveTables(given: string[], manifestTables: { name: string }[] | undefined): string[] {
  const known = (manifestTables ?? []).map((t) => t.name)
  return given.map((name) => {
    const qualified = name.includes('.') ? name : `public.${name}`
    if (known.length > 0 && !known.includes(qualified)) throw new StepFailure(`the backup has no table ${name}`, `it has: ${known.join(', ')}`)
    return qualified
  })
}

/**
 * Prefixes the data pg_restore writes with the SQL that makes room for it, and, for a
 * side-by-side restore, points its COPY lines at the other schema.
 */
class RestoreScript extends Transform {
  #started = false
  #partial = ''
  constructor(private readonly prefix: string, private readonly rename?: Map<string, string>) {
    super()
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
    callback()
  }

  private rewrite(line: string): string {
    if (!line.startsWith('COPY ')) return line
    for (const [from, to] of this.rename!) if (line.startsWith(`COPY ${from} `)) return `COPY ${to} ${line.slice(`COPY ${from} `.length)}`
    return line
  }
}

export function partialRestoreStep(options: PartialOptions): Step<RestoreContext> {
  return {
    id: 'restore-tables',
    title: 'Restore the chosen tables in one transaction',
    async run(context, run) {
      const { config, runtimes, backup } = context
      const tables = resolveTables(options.tables, backup.manifest.tables)
      const target = options.intoSchema
      if (run.dryRun) return { summary: target ? `would restore ${tables.join(', ')} into schema ${target} beside the live tables` : `would replace the rows of ${tables.join(', ')} with the backup's, in one transaction` }
      const quoted = tables.map(quoteIdent)
      // pg_restore writes `COPY public.name`, quoting only names that need it: match both spellings.
      const rename = target ? new Map(tables.flatMap((t) => [t, quoteIdent(t)].map((from) => [from, `${quoteIdent(target)}.${quoteIdent(t.split('.')[1]!)}`] as [string, string]))) : undefined
      // The transaction is committed only once pg_restore has written everything: psql's own
      // --single-transaction commits at the end of its input, and a pg_restore that fails (or a
      // stream closed by an abort) ends the input early, which would commit a half-filled table.
      const prefix = 'begin;\n' + (target
        ? `create schema if not exists ${quoteIdent(target)};\n${tables.map((t) => `create table ${quoteIdent(target)}.${quoteIdent(t.split('.')[1]!)} (like ${quoteIdent(t)} including all);`).join('\n')}\n`
        : `truncate ${quoted.join(', ')};\n`)
      const input = dumpInput(config, backup)
      const script = new RestoreScript(prefix, rename)
      const selection = tables.flatMap((t) => ['-n', t.split('.')[0]!, '-t', t.split('.')[1]!])
      const psql = runPgTool(config, runtimes, 'psql', [...connectionArgs(config), '-d', config.postgres.database, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { stdin: script, signal: run.signal })
      const toScript = new PassThrough()
      toScript.pipe(script)
      // psql stopping at an error (a table other tables reference) leaves pg_restore writing into
      // pipes that nobody reads any more: its output then goes nowhere and it is stopped, and
      // psql's error is the one said.
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
        dumped = await runPgTool(config, runtimes, 'pg_restore', ['--data-only', ...selection, '-f', '-', ...input.args], { stdin: input.stdin as never, stdout: toScript, signal: AbortSignal.any([run.signal, psqlEnded.signal]) }).catch((error: unknown) => {
          if (!psqlEnded.signal.aborted || run.signal.aborted) throw error
          return { exitCode: -1, stderr: 'stopped: psql had ended' }
        })
        psqlFirst = psqlEnded.signal.aborted
      } finally {
        // Without a commit psql ends its session at the end of input, and the server rolls back.
        toScript.end(dumped?.exitCode === 0 && !run.signal.aborted ? '\ncommit;\n' : undefined)
      }
      const applied = await psql
      if (dumped.exitCode !== 0 && !(psqlFirst && applied.exitCode !== 0)) throw new StepFailure(`pg_restore could not read the tables: ${toolError(dumped)}`, 'the live database was not changed')
      if (applied.exitCode !== 0) {
        const why = toolError(applied)
        const referenced = /referenced|foreign key/i.test(applied.stderr)
        throw new StepFailure(`the restore of ${tables.join(', ')} was rolled back: ${why}`, referenced ? 'another table references these rows: restore them together (--table A --table B), or use --into-schema to compare side by side' : 'the live database was not changed')
      }
      const expected = (backup.manifest.tables ?? []).filter((t) => tables.includes(t.name)).map((t) => ({ name: target ? `${target}.${t.name.split('.')[1]}` : t.name, rows: t.rows }))
      const counts = expected.length ? await compareCounts(config, config.postgres.database, expected) : { ok: true, compared: 0, mismatches: [] }
      if (!counts.ok) throw new StepFailure(`after the restore ${counts.mismatches[0]!.name} has ${counts.mismatches[0]!.actual} rows, the backup had ${counts.mismatches[0]!.expected}`, 'something wrote to the table meanwhile, or the dump is inconsistent')
      return { summary: `${target ? `restored into schema ${target}` : 'replaced'}: ${expected.map((t) => `${t.name} ${t.rows.toLocaleString('en-US')} rows`).join(', ')}`, data: { tables, intoSchema: target, rows: expected } }
    },
  }
}
