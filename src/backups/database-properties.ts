import type { Client } from 'pg'
import { z } from 'zod'
import { queryRows, quoteName } from '../systems/postgres.js'

/**
 * What a database is besides its contents: owner, encoding and locale, who may connect, its
 * own settings and comment. pg_dump keeps these only for `pg_restore --create`, which restores
 * under the original name; a restore beside the live database has to carry them itself. A
 * manifest carries them, so they are checked when it is read (see manifest.ts).
 */
export const databasePropertiesSchema = z.object({
  owner: z.string(),
  encoding: z.string(),
  collate: z.string(),
  ctype: z.string(),
  /** PostgreSQL 15+ (libc before); builtin since 17. */
  localeProvider: z.enum(['libc', 'icu', 'builtin']),
  /** The ICU or builtin locale, where the provider has one. */
  providerLocale: z.string().optional(),
  connectionLimit: z.number().int(),
  /** null: the default privileges (PUBLIC may connect and create temporary tables). */
  privileges: z.array(z.object({ grantee: z.string(), privilege: z.string(), grantable: z.boolean() })).nullable(),
  /** `ALTER DATABASE … SET` (role null) and `ALTER ROLE … IN DATABASE … SET`, as stored: name=value. */
  settings: z.array(z.object({ role: z.string().nullable(), setting: z.string() })),
  comment: z.string().optional(),
})

export type DatabaseProperties = z.infer<typeof databasePropertiesSchema>

const PROVIDERS: Record<string, DatabaseProperties['localeProvider']> = { c: 'libc', i: 'icu', b: 'builtin' }

/**
 * The database's properties, or undefined when it does not exist. pg_database's locale columns
 * differ between versions (datlocprovider since 15, daticulocale in 15-16, datlocale since 17),
 * so the row is read whole as JSON.
 */
export async function readDatabaseProperties(client: Client, database: string): Promise<DatabaseProperties | undefined> {
  const [found] = await queryRows<{ oid: number; owner: string; encoding: string; d: Record<string, unknown>; hasacl: boolean; comment: string | null }>(
    client,
    `select d.oid, pg_get_userbyid(d.datdba) as owner, pg_encoding_to_char(d.encoding) as encoding, to_jsonb(d) - 'datacl' as d, d.datacl is not null as hasacl, shobj_description(d.oid, 'pg_database') as comment
       from pg_database d where d.datname = $1`,
    [database],
  )
  if (!found) return undefined
  const row = found.d
  const privileges = await queryRows<{ grantee: string; privilege: string; grantable: boolean }>(
    client,
    `select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end as grantee, a.privilege_type as privilege, a.is_grantable as grantable
       from pg_database d, aclexplode(d.datacl) a where d.oid = $1`,
    [found.oid],
  )
  const settings = await queryRows<{ role: string | null; setting: string }>(
    client,
    `select case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end as role, unnest(s.setconfig) as setting
       from pg_db_role_setting s where s.setdatabase = $1 order by 1 nulls first`,
    [found.oid],
  )
  const providerLocale = (row.datlocale ?? row.daticulocale) as string | null | undefined
  return {
    owner: found.owner,
    encoding: found.encoding,
    collate: String(row.datcollate),
    ctype: String(row.datctype),
    // Before PostgreSQL 15 there is no column: libc.
    localeProvider: (typeof row.datlocprovider === 'string' ? PROVIDERS[row.datlocprovider] : undefined) ?? 'libc',
    ...(providerLocale ? { providerLocale } : {}),
    connectionLimit: Number(row.datconnlimit),
    privileges: found.hasacl ? privileges : null,
    settings,
    ...(found.comment !== null ? { comment: found.comment } : {}),
  }
}

/**
 * The roles the database's owner and privileges name: they must exist where it is created.
 * Roles with a setting in it are not among them: such a setting is skipped with a warning.
 */
export function propertyRoles(properties: DatabaseProperties, options: { owners: boolean; privileges: boolean }): string[] {
  const roles = new Set<string>()
  if (options.owners) roles.add(properties.owner)
  if (options.privileges)
    for (const p of properties.privileges ?? []) if (p.grantee !== 'PUBLIC' && (options.owners || p.grantee !== properties.owner)) roles.add(p.grantee)
  return [...roles]
}

/**
 * CREATE DATABASE from template0 (a dump restores into an empty database) with the same
 * encoding, locale and owner. `serverVersion` (server_version_num) is the creating server's:
 * locale providers are spelled only where it knows them.
 */
export function createDatabaseSql(
  client: Client,
  name: string,
  properties: DatabaseProperties | undefined,
  options: { owners: boolean; serverVersion: number },
): string {
  if (!properties) return `create database ${quoteName(name)} template template0`
  const parts = [`create database ${quoteName(name)} template template0`, `encoding ${client.escapeLiteral(properties.encoding)}`]
  if (options.serverVersion >= 150000) parts.push(`locale_provider ${properties.localeProvider}`)
  parts.push(`lc_collate ${client.escapeLiteral(properties.collate)}`, `lc_ctype ${client.escapeLiteral(properties.ctype)}`)
  if (options.serverVersion >= 150000 && properties.providerLocale) {
    parts.push(`${properties.localeProvider === 'builtin' ? 'builtin_locale' : 'icu_locale'} ${client.escapeLiteral(properties.providerLocale)}`)
  }
  if (options.owners) parts.push(`owner ${quoteName(properties.owner)}`)
  return parts.join(' ')
}

/** Settings whose value is a list of quoted items (pg_dump's variable_is_guc_list_quote). */
const LIST_QUOTED = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
])

/** Splits a stored list value (`"$user", public`) into its items, as PostgreSQL's SplitGUCList does. */
export function splitSettingList(value: string): string[] {
  const items: string[] = []
  let i = 0
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === '\t') i++
    let item = ''
    if (value[i] === '"') {
      i++
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"'
          i += 2
        } else if (value[i] === '"') {
          i++
          break
        } else item += value[i++]
      }
      while (i < value.length && value[i] !== ',') i++
    } else {
      while (i < value.length && value[i] !== ',') item += value[i++]
      item = item.trim()
    }
    items.push(item)
    if (value[i] === ',') i++
  }
  return items
}

/** The statement that stores one setting of the database (or of a role in it). */
export function settingSql(client: Client, database: string, entry: { role: string | null; setting: string }): string {
  const at = entry.setting.indexOf('=')
  const name = entry.setting.slice(0, at)
  const value = entry.setting.slice(at + 1)
  const items = LIST_QUOTED.has(name.toLowerCase()) ? splitSettingList(value) : [value]
  const values = items.length > 0 ? items.map((v) => client.escapeLiteral(v)).join(', ') : "''"
  const target = entry.role ? `alter role ${quoteName(entry.role)} in database ${quoteName(database)}` : `alter database ${quoteName(database)}`
  return `${target} set ${quoteName(name)} = ${values}`
}

/**
 * Gives a new database the connection limit, privileges, settings and comment of the recorded one. Each
 * statement stands alone: one that fails (a setting this server does not know) is reported,
 * the others still apply.
 */
export async function applyDatabaseProperties(
  client: Client,
  name: string,
  properties: DatabaseProperties,
  options: { owners: boolean; privileges: boolean },
): Promise<{ applied: number; failed: string[] }> {
  const statements: { sql: string; what: string }[] = []
  const db = quoteName(name)
  // A low connection limit would have stood in the way of pg_restore's parallel jobs: set last.
  if (properties.connectionLimit !== -1)
    statements.push({ sql: `alter database ${db} connection limit ${properties.connectionLimit}`, what: 'connection limit' })
  if (options.privileges && properties.privileges) {
    statements.push({ sql: `revoke all on database ${db} from public`, what: 'privileges of PUBLIC' })
    // Without the recorded owner (--no-owner) the owner's own privileges stay as created.
    if (options.owners) statements.push({ sql: `revoke all on database ${db} from ${quoteName(properties.owner)}`, what: `privileges of ${properties.owner}` })
    for (const p of properties.privileges) {
      if (!options.owners && p.grantee === properties.owner) continue
      const grantee = p.grantee === 'PUBLIC' ? 'public' : quoteName(p.grantee)
      statements.push({
        sql: `grant ${p.privilege.toLowerCase()} on database ${db} to ${grantee}${p.grantable ? ' with grant option' : ''}`,
        what: `${p.privilege} for ${p.grantee}`,
      })
    }
  }
  for (const entry of properties.settings) {
    const setting = entry.setting.slice(0, entry.setting.indexOf('='))
    statements.push({ sql: settingSql(client, name, entry), what: `setting ${setting}${entry.role ? ` of role ${entry.role}` : ''}` })
  }
  if (properties.comment !== undefined) statements.push({ sql: `comment on database ${db} is ${client.escapeLiteral(properties.comment)}`, what: 'comment' })
  const failed: string[] = []
  for (const { sql, what } of statements) {
    try {
      await client.query(sql)
    } catch (error) {
      // What failed and why, never the value: a setting may hold a secret (app.jwt_secret).
      failed.push(`${what}: ${(error as Error).message}`)
    }
  }
  return { applied: statements.length - failed.length, failed }
}
