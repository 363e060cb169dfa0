import type { Client } from 'pg'
import { StepFailure } from '../../errors.js'
import { queryRows, quoteIdent, quoteName } from '../../systems/postgres.js'

/**
 * A partial restore of tables that other tables reference. TRUNCATE cannot empty a table that a
 * table outside the restore references, and must not cascade into it: such a table is merged
 * instead, in the one transaction of the restore. The backup's rows are loaded into a temporary
 * staging table; rows that differ are updated, rows missing are inserted (INSERT ... ON CONFLICT
 * DO UPDATE on its primary key, or a unique key of not-null columns), and rows the backup does not
 * have are deleted unless a row somewhere references them: those are kept and listed. Only rows
 * that differ from the backup's are written, so the table's own triggers fire for exactly those,
 * as for any write. A table nothing outside the restore references is emptied and reloaded whole,
 * as before.
 */

export interface Reference {
  /** The referencing table, schema.name. */
  table: string
  constraint: string
  columns: string[]
  referencedColumns: string[]
}

export interface TableShape {
  /** schema.name, as the manifest spells it. */
  name: string
  partitioned: boolean
  columns: { name: string; generated: boolean; identityAlways: boolean; sequence: string | null }[]
  /** The primary key, else the narrowest unique key of not-null columns; null when there is none. */
  key: string[] | null
  /** Every foreign key that points at the table (from itself too). */
  referencedBy: Reference[]
}

export interface TablePlan {
  /** Emptied and reloaded whole: every table that references them is restored with them. */
  replace: TableShape[]
  /** Merged row by row, parents first: a table outside the restore references them. */
  merge: TableShape[]
}

/** What the live database says of the tables to restore. */
export async function readTableShapes(client: Client, names: string[]): Promise<TableShape[]> {
  const shapes: TableShape[] = []
  for (const name of names) {
    const [row] = await queryRows<Omit<TableShape, 'name'>>(
      client,
      `with t as (select c.oid, c.relkind from pg_class c where c.oid = to_regclass($1))
       select t.relkind = 'p' as partitioned,
              (select json_agg(json_build_object('name', a.attname, 'generated', a.attgenerated <> '', 'identityAlways', a.attidentity = 'a',
                                                 'sequence', pg_get_serial_sequence(t.oid::regclass::text, a.attname)) order by a.attnum)
                 from pg_attribute a where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped) as columns,
              (select array(select a.attname::text from unnest(i.indkey) with ordinality k(attnum, position)
                              join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                             where k.position <= i.indnkeyatts order by k.position)
                 from pg_index i
                where i.indrelid = t.oid and i.indisunique and i.indimmediate and i.indisvalid and i.indpred is null and i.indexprs is null
                  and not exists (select 1 from unnest(i.indkey) k(attnum) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum where not a.attnotnull)
                order by i.indisprimary desc, i.indnkeyatts, i.indexrelid limit 1) as key,
              coalesce((select json_agg(json_build_object(
                         'table', rn.nspname || '.' || rc.relname, 'constraint', f.conname,
                         'columns', array(select a.attname from unnest(f.conkey) with ordinality k(attnum, position) join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum order by k.position),
                         'referencedColumns', array(select a.attname from unnest(f.confkey) with ordinality k(attnum, position) join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum order by k.position))
                         order by rn.nspname, rc.relname, f.conname)
                 from pg_constraint f join pg_class rc on rc.oid = f.conrelid join pg_namespace rn on rn.oid = rc.relnamespace
                where f.contype = 'f' and f.confrelid = t.oid and f.conparentid = 0), '[]') as "referencedBy"
         from t`,
      [quoteIdent(name)],
    )
    if (!row) throw new StepFailure(`there is no table ${name} in the live database`, 'restore the whole database (--mode full), or create the table first')
    shapes.push({ name, ...row })
  }
  return shapes
}

/**
 * Which tables can be emptied and reloaded (nothing outside the restore references them, nor a
 * table that is merged) and which must be merged; refuses a table that must be merged but cannot.
 */
export function planTables(shapes: TableShape[]): TablePlan {
  const replaced = new Set(shapes.map((s) => s.name))
  const outsideReferences = (shape: TableShape) => shape.referencedBy.filter((r) => r.table !== shape.name && !replaced.has(r.table))
  for (let changed = true; changed;) {
    changed = false
    for (const shape of shapes) {
      if (replaced.has(shape.name) && outsideReferences(shape).length > 0) {
        replaced.delete(shape.name)
        changed = true
      }
    }
  }
  const merge = parentsFirst(shapes.filter((s) => !replaced.has(s.name)))
  for (const shape of merge) {
    const referencing = [...new Set(outsideReferences(shape).map((r) => r.table))]
    const why = `${referencing.join(', ')} ${referencing.length === 1 ? 'references' : 'reference'} it, so it cannot be emptied and reloaded`
    const instead = `restore it beside the live table with --into-schema NAME and copy the rows you need${referencing.length ? `, or restore it together with ${referencing.map((t) => `--table ${t}`).join(' ')}` : ''}`
    if (shape.partitioned) throw new StepFailure(`${shape.name} is partitioned and ${why}`, instead)
    if (!shape.key)
      throw new StepFailure(`${shape.name} has no primary key (nor a unique key of not-null columns) to match its rows with the backup's, and ${why}`, instead)
  }
  return { replace: shapes.filter((s) => replaced.has(s.name)), merge }
}

/** Referenced tables before the tables that reference them (a cycle keeps the given order). */
function parentsFirst(shapes: TableShape[]): TableShape[] {
  const ordered: TableShape[] = []
  const left = [...shapes]
  while (left.length > 0) {
    const placed = new Set(ordered.map((s) => s.name))
    const parentsPlaced = (shape: TableShape) =>
      left.every((other) => other === shape || placed.has(other.name) || !other.referencedBy.some((r) => r.table === shape.name))
    const next = left.find(parentsPlaced) ?? left[0]!
    ordered.push(next)
    left.splice(left.indexOf(next), 1)
  }
  return ordered
}

/** The merge's outcome, printed by its last statement on a line of its own. */
export interface MergeResult {
  rows: { table: string; action: 'inserted' | 'updated' | 'deleted' | 'kept'; rows: number }[]
  /** Rows the backup does not have, kept because other rows reference them (the first 100). */
  kept: { table: string; key: Record<string, unknown>; referencedBy: string[] }[]
  keptTotal: number
}

const RESULT_MARK = 'probe-ops-restore-result '
/** What the merge wrote per table, and the rows it kept: temporary, gone with the transaction. */
const COUNTS = 'pg_temp.probe_ops_restore_counts'
const KEPT = 'pg_temp.probe_ops_restore_kept'
const KEPT_LISTED = 100

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

function columnList(names: string[], alias?: string): string {
  return names.map((n) => (alias ? `${alias}.${quoteName(n)}` : quoteName(n))).join(', ')
}

function keyMatch(key: string[], left: string, right: string): string {
  return key.map((k) => `${left}.${quoteName(k)} = ${right}.${quoteName(k)}`).join(' and ')
}

/** A row of `live` that some other row references, through any foreign key. */
function referencedBy(references: Reference[], live: string): string[] {
  return references.map(
    (r) =>
      `exists (select 1 from ${quoteIdent(r.table)} as ref where ${r.columns.map((c, i) => `ref.${quoteName(c)} = ${live}.${quoteName(r.referencedColumns[i]!)}`).join(' and ')})`,
  )
}

/**
 * The SQL around the backup's rows: before them, the staging tables they are loaded into; after
 * them (only once pg_restore has written everything), the checks, the merge, the reload of the
 * replaced tables and the outcome. The caller wraps both in one transaction.
 */
export function mergeScript(
  plan: TablePlan,
  manifestRows: Map<string, number>,
): { staging: Map<string, string>; before: string; after: (copied: Map<string, string[]>) => string } {
  const tables = [...plan.merge, ...plan.replace]
  // pg_restore's script empties search_path: every name is qualified, temporary ones with pg_temp.
  const staging = new Map(tables.map((t, i) => [t.name, `pg_temp.probe_ops_restore_${i + 1}`]))
  const stage = (t: TableShape) => staging.get(t.name)!
  const before = [
    // The live columns without their constraints: a NOT NULL column added since the backup stays
    // empty here, since the backup's COPY does not name it.
    ...tables.map((t) => `create temp table ${stage(t)} on commit drop as select * from ${quoteIdent(t.name)} with no data;`),
    `create temp table ${COUNTS} (tbl text, action text, n bigint) on commit drop;`,
    `create temp table ${KEPT} (tbl text, key json, referenced_by text[]) on commit drop;`,
  ]
  return { staging, before: `${before.join('\n')}\n`, after: (copied) => `\n${mergeStatements(plan, manifestRows, staging, copied).join('\n')}\n` }
}

/**
 * The statements after the data. Only the columns the backup has are written (its COPY lines name
 * them): a column added since keeps its value in a row that is updated, and gets its default in
 * one that is inserted, as in a table reloaded whole.
 */
function mergeStatements(plan: TablePlan, manifestRows: Map<string, number>, staging: Map<string, string>, copied: Map<string, string[]>): string[] {
  const tables = [...plan.merge, ...plan.replace]
  const stage = (t: TableShape) => staging.get(t.name)!
  const written = (t: TableShape) => {
    const named = copied.get(stage(t))
    // Nothing staged would read as "the backup has no rows": every live row would look extra.
    if (!named) throw new StepFailure(`pg_restore wrote no data for ${t.name}`, 'nothing was changed; check that the backup holds its rows (pg_restore --list)')
    return t.columns.filter((c) => !c.generated && named.includes(c.name))
  }
  // pg_restore's script emptied search_path; the writes below fire the tables' own triggers, which
  // must see the database's own, as the platform's writes do (every name below is qualified).
  const after: string[] = ['reset search_path;']
  // A dump read to its end that still holds other rows than its manifest says is not restored.
  for (const t of tables) {
    const expected = manifestRows.get(t.name)
    if (expected === undefined) continue
    after.push(
      `do $check$ declare staged bigint := (select count(*) from ${stage(t)}); begin if staged <> ${expected} then raise exception 'the backup holds % rows of %, its manifest says %', staged, ${literal(t.name)}, ${expected}; end if; end $check$;`,
    )
  }
  // Exclusive: readers go on, but no row of these tables can be written or newly referenced (a
  // foreign key check locks the referenced row) until the restore commits, so a row found
  // unreferenced is still unreferenced when it is deleted.
  if (plan.merge.length) after.push(`lock table ${plan.merge.map((t) => quoteIdent(t.name)).join(', ')} in exclusive mode;`)
  if (plan.replace.length) after.push(`truncate ${plan.replace.map((t) => quoteIdent(t.name)).join(', ')};`)
  const deleteExtra = (t: TableShape) =>
    `with gone as (delete from ${quoteIdent(t.name)} as live where not exists (select 1 from ${stage(t)} as backup where ${keyMatch(t.key!, 'backup', 'live')})${referencedBy(
      t.referencedBy,
      'live',
    )
      .map((r) => ` and not ${r}`)
      .join('')} returning 1)
insert into ${COUNTS} select ${literal(t.name)}, 'deleted', count(*) from gone;`
  const childrenFirst = [...plan.merge].reverse()
  // Deleted first, so that a row the backup has can take back a unique value (a user name) from a
  // row that replaced it; again after, for rows that only the restored rows stopped referencing.
  after.push(...childrenFirst.map(deleteExtra))
  for (const t of plan.merge) {
    const columns = written(t).map((c) => c.name)
    const updated = written(t)
      .filter((c) => !c.identityAlways && !t.key!.includes(c.name))
      .map((c) => c.name)
    const overriding = written(t).some((c) => c.identityAlways) ? ' overriding system value' : ''
    const onConflict = updated.length ? `do update set ${updated.map((c) => `${quoteName(c)} = excluded.${quoteName(c)}`).join(', ')}` : 'do nothing'
    after.push(`with written as (
  insert into ${quoteIdent(t.name)} as live (${columnList(columns)})${overriding}
  select ${columnList(columns, 'backup')} from ${stage(t)} as backup
   where not exists (select 1 from ${quoteIdent(t.name)} as same where ${keyMatch(t.key!, 'same', 'backup')} and row(${columnList(columns, 'same')})::text = row(${columnList(columns, 'backup')})::text)
  on conflict (${columnList(t.key!)}) ${onConflict}
  returning (live.xmax = 0) as inserted)
insert into ${COUNTS} select ${literal(t.name)}, case when inserted then 'inserted' else 'updated' end, count(*) from written group by inserted;`)
  }
  after.push(...childrenFirst.map(deleteExtra))
  for (const t of plan.merge) {
    const byTable = [...new Set(t.referencedBy.map((r) => r.table))].map((table) => {
      const conditions = referencedBy(
        t.referencedBy.filter((r) => r.table === table),
        'live',
      )
      return `case when ${conditions.join(' or ')} then ${literal(table)} end`
    })
    after.push(
      `insert into ${KEPT} select ${literal(t.name)}, json_build_object(${t.key!.map((k) => `${literal(k)}, live.${quoteName(k)}`).join(', ')}), array_remove(array[${byTable.join(', ') || 'null'}]::text[], null)
  from ${quoteIdent(t.name)} as live where not exists (select 1 from ${stage(t)} as backup where ${keyMatch(t.key!, 'backup', 'live')});`,
    )
  }
  for (const t of plan.replace) {
    const columns = written(t).map((c) => c.name)
    const overriding = written(t).some((c) => c.identityAlways) ? ' overriding system value' : ''
    after.push(`insert into ${quoteIdent(t.name)} (${columnList(columns)})${overriding} select ${columnList(columns)} from ${stage(t)};`)
  }
  // A sequence behind the restored ids would hand out one of them again: moved forward, never back.
  for (const t of tables) {
    for (const c of t.columns.filter((x) => x.sequence)) {
      after.push(
        `select pg_catalog.setval(${literal(c.sequence!)}::regclass, top.m) from (select max(${quoteName(c.name)}) as m from ${quoteIdent(t.name)}) as top, ${c.sequence} as s where top.m > s.last_value or (top.m = s.last_value and not s.is_called);`,
      )
    }
  }
  after.push(`insert into ${COUNTS} select tbl, 'kept', count(*) from ${KEPT} group by tbl;`)
  // As jsonb, printed on one line (json_agg's own text breaks lines between elements).
  after.push(`select ${literal(RESULT_MARK)} || json_build_object(
  'rows', (select coalesce(json_agg(c), '[]') from (select tbl as "table", action, sum(n)::bigint as rows from ${COUNTS} group by tbl, action having sum(n) > 0 order by tbl, action) as c),
  'kept', (select coalesce(json_agg(k), '[]') from (select tbl as "table", key, referenced_by as "referencedBy" from ${KEPT} order by tbl limit ${KEPT_LISTED}) as k),
  'keptTotal', (select count(*) from ${KEPT}))::jsonb::text;`)
  return after
}

/** The outcome line among what psql printed; undefined when the merge never got to it. */
export function parseMergeResult(output: string): MergeResult | undefined {
  const line = output.split('\n').find((l) => l.startsWith(RESULT_MARK))
  return line ? (JSON.parse(line.slice(RESULT_MARK.length)) as MergeResult) : undefined
}
