import { describe, expect, it } from 'vitest'
import { copyColumns } from '../../src/jobs/restore/partial.js'
import { mergeScript, parseMergeResult, planTables, type Reference, type TablePlan, type TableShape } from '../../src/jobs/restore/table-merge.js'

function table(name: string, referencedBy: [string, string][] = [], options: Partial<TableShape> = {}): TableShape {
  const references: Reference[] = referencedBy.map(([from, column]) => ({
    table: from,
    constraint: `${from.split('.')[1]}_${column}_fkey`,
    columns: [column],
    referencedColumns: ['id'],
  }))
  return {
    name,
    partitioned: false,
    columns: [
      { name: 'id', generated: false, identityAlways: false, sequence: `${name}_id_seq` },
      { name: 'name', generated: false, identityAlways: false, sequence: null },
    ],
    key: ['id'],
    referencedBy: references,
    ...options,
  }
}

// The platform's tables: tasks reference users, task_results reference tasks and agents.
const users = table('public.users', [['public.tasks', 'created_by']])
const tasks = table('public.tasks', [['public.task_results', 'task_id']])
const agents = table('public.agents', [['public.task_results', 'agent_id']])
const results = table('public.task_results')
const names = (shapes: TableShape[]) => shapes.map((s) => s.name)

/** The SQL after the data, as when pg_restore's COPY lines named every column of each table. */
function after(plan: TablePlan, manifestRows = new Map<string, number>()): string {
  const script = mergeScript(plan, manifestRows)
  const tables = [...plan.merge, ...plan.replace]
  return script.after(new Map(tables.map((t) => [script.staging.get(t.name)!, t.columns.map((c) => c.name)])))
}

describe('how a partial restore restores each table', () => {
  it('empties and reloads a table only when every table that references it is restored with it', () => {
    expect(names(planTables([results]).replace)).toEqual(['public.task_results'])
    expect(names(planTables([tasks, results]).replace)).toEqual(['public.tasks', 'public.task_results'])
    const alone = planTables([users])
    expect([names(alone.merge), names(alone.replace)]).toEqual([['public.users'], []])
    // users is referenced by tasks, which is merged (task_results is not restored): both merged.
    const both = planTables([users, tasks])
    expect([names(both.merge), names(both.replace)]).toEqual([['public.users', 'public.tasks'], []])
    const mixed = planTables([results, agents, users])
    expect([names(mixed.merge), names(mixed.replace)]).toEqual([['public.users'], ['public.task_results', 'public.agents']])
  })

  it('merges referenced tables before the tables that reference them, whatever order they were given in', () => {
    expect(names(planTables([tasks, users]).merge)).toEqual(['public.users', 'public.tasks'])
  })

  it('a table referencing itself is still emptied and reloaded when nothing else references it', () => {
    expect(names(planTables([table('public.teams', [['public.teams', 'parent_id']])]).replace)).toEqual(['public.teams'])
  })

  it('refuses a table that must be merged but has no key to match rows on, or is partitioned, and says what to do instead', () => {
    expect(() => planTables([{ ...users, key: null }])).toThrow(
      expect.objectContaining({
        message:
          "public.users has no primary key (nor a unique key of not-null columns) to match its rows with the backup's, and public.tasks references it, so it cannot be emptied and reloaded",
        hint: 'restore it beside the live table with --into-schema NAME and copy the rows you need, or restore it together with --table public.tasks',
      }),
    )
    expect(() => planTables([{ ...users, partitioned: true }])).toThrow(/^public.users is partitioned and public.tasks references it/)
  })
})

describe('the merge script', () => {
  it('loads every table into staging, deletes children first, writes parents first, and never empties a merged table', () => {
    const plan = planTables([tasks, users, results])
    // task_results is restored too: nothing outside references tasks, and users only through tasks.
    expect(plan.merge).toEqual([])
    const merged = planTables([tasks, users])
    const script = mergeScript(
      merged,
      new Map([
        ['public.users', 4],
        ['public.tasks', 12],
      ]),
    )
    expect([...script.staging.values()]).toEqual(['pg_temp.probe_ops_restore_1', 'pg_temp.probe_ops_restore_2'])
    expect(script.before).toContain('create temp table pg_temp.probe_ops_restore_1 on commit drop as select * from "public"."users" with no data;')
    const statements = after(
      merged,
      new Map([
        ['public.users', 4],
        ['public.tasks', 12],
      ]),
    ).split('\n')
    const sql = statements.join('\n')
    const at = (pattern: RegExp) => statements.findIndex((l) => pattern.test(l))
    const atAll = (pattern: RegExp) => statements.flatMap((l, i) => (pattern.test(l) ? [i] : []))
    expect(at(/^reset search_path;$/)).toBe(1)
    expect(sql).toContain(`if staged <> 4 then raise exception 'the backup holds % rows of %, its manifest says %', staged, 'public.users', 4;`)
    expect(at(/^lock table "public"."users", "public"."tasks" in exclusive mode;$/)).toBeGreaterThan(0)
    expect(sql).not.toMatch(/truncate/)
    const deletes = atAll(/^with gone as \(delete from "public"\."(\w+)"/).map((i) => /"public"\."(\w+)"/.exec(statements[i]!)![1])
    expect(deletes).toEqual(['tasks', 'users', 'tasks', 'users'])
    const inserts = atAll(/^ {2}insert into "public"\."(\w+)" as live/).map((i) => /"public"\."(\w+)"/.exec(statements[i]!)![1])
    expect(inserts).toEqual(['users', 'tasks'])
    // A row is kept while anything references it: users by tasks, tasks by task_results.
    expect(sql).toContain('and not exists (select 1 from "public"."tasks" as ref where ref."created_by" = live."id")')
    expect(sql).toContain('and not exists (select 1 from "public"."task_results" as ref where ref."task_id" = live."id")')
    expect(sql).toContain('on conflict ("id") do update set "name" = excluded."name"')
    expect(sql).toContain(`select pg_catalog.setval('public.users_id_seq'::regclass, top.m)`)
  })

  it('reloads the tables that can be emptied after the merged ones are written, from staging', () => {
    const sql = after(planTables([results, users]))
    const truncate = sql.indexOf('truncate "public"."task_results";')
    expect(truncate).toBeGreaterThan(sql.indexOf('lock table "public"."users" in exclusive mode;'))
    expect(sql.indexOf('insert into "public"."task_results" ("id", "name") select "id", "name" from pg_temp.probe_ops_restore_2;')).toBeGreaterThan(
      sql.indexOf('insert into "public"."users" as live'),
    )
  })

  it('inserts identity columns with their values, never updates a generated column, and updates nothing of a key-only table', () => {
    const shaped = table('public.codes', [['public.uses', 'code_id']], {
      columns: [
        { name: 'id', generated: false, identityAlways: true, sequence: 'public.codes_id_seq' },
        { name: 'label', generated: false, identityAlways: false, sequence: null },
        { name: 'label_upper', generated: true, identityAlways: false, sequence: null },
      ],
    })
    const script = after(planTables([shaped]))
    expect(script).toContain('insert into "public"."codes" as live ("id", "label") overriding system value')
    expect(script).toContain('on conflict ("id") do update set "label" = excluded."label"')
    const keyOnly = after(planTables([{ ...shaped, columns: [shaped.columns[0]!] }]))
    expect(keyOnly).toContain('on conflict ("id") do nothing')
  })

  it('writes only the columns the backup has: a column added since keeps its value, or gets its default', () => {
    const grown = { ...users, columns: [...users.columns, { name: 'added_since', generated: false, identityAlways: false, sequence: null }] }
    const plan = planTables([grown])
    const script = mergeScript(plan, new Map())
    const sql = script.after(new Map([[script.staging.get('public.users')!, ['id', 'name']]]))
    expect(sql).toContain('insert into "public"."users" as live ("id", "name")')
    expect(sql).toContain('on conflict ("id") do update set "name" = excluded."name"\n')
    // No COPY line for a table: nothing staged must never read as "the backup has no rows".
    expect(() => script.after(new Map())).toThrow(/^pg_restore wrote no data for public.users$/)
  })

  it("reads the columns of pg_restore's COPY lines, quoted or not", () => {
    expect(copyColumns('(id, username, "Last Login", "say ""hi"", then", org_id) FROM stdin;')).toEqual([
      'id',
      'username',
      'Last Login',
      'say "hi", then',
      'org_id',
    ])
  })

  it('reads its outcome from the line psql printed, among the others', () => {
    expect(parseMergeResult(' set_config \n\nprobe-ops-restore-result {"rows": [], "kept": [], "keptTotal": 0}\n')).toEqual({
      rows: [],
      kept: [],
      keptTotal: 0,
    })
    expect(parseMergeResult('')).toBeUndefined()
  })
})
