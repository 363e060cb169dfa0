import type { Client } from 'pg'
import { queryRows, quoteIdent } from '../systems/postgres.js'

/**
 * What a database is besides its contents: owner, encoding and locale, who may connect, its
 * own settings and comment. pg_dump keeps these only for `pg_restore --create`, which restores
 * under the original name; a restore beside the live database has to carry them itself.
 */
export interface DatabaseProperties {
  owner: string
  encoding: string
  collate: string
  ctype: string
  localeProvider: 'libc' | 'icu'
  icuLocale?: string
  connectionLimit: number
  /** null: the default privileges (PUBLIC may connect and create temporary tables). */
  privileges: { grantee: string; privilege: string; grantable: boolean }[] | null
  /** `ALTER DATABASE … SET` (role null) and `ALTER ROLE … IN DATABASE … SET`, as stored: name=value. */
  settings: { role: string | null; setting: string }[]
  comment?: string
}

export async function readDatabaseProperties(client: Client, database: string): Promise<DatabaseProperties | undefined> {
  const [row] = await queryRows<{ oid: number; owner: string; encoding: string; collate: string; ctype: string; provider: string; icu: string | null; limit: number; hasacl: boolean; comment: string | null }>(
    client,
    `select d.oid, pg_get_userbyid(d.datdba) as owner, pg_encoding_to_char(d.encoding) as encoding, d.datcollate as collate, d.datctype as ctype,
            d.datlocprovider::text as provider, d.daticulocale as icu, d.datconnlimit as limit, d.datacl is not null as hasacl,
            shobj_description(d.oid, 'pg_database') as comment
       from pg_database d where d.datname = $1`,
    [database],
  )
  if (!row) return undefined
  const privileges = row.hasacl
    ? await queryRows<{ grantee: string; privilege: string; grantable: boolean }>(
        client,
        `select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end as grantee, a.privilege_type as privilege, a.is_grantable as grantable
           from pg_database d, aclexplode(d.datacl) a where d.oid = $1`,
        [row.oid],
      )
    : null
  const settings = await queryRows<{ role: string | null; setting: string }>(
    client,
    `select case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end as role, unnest(s.setconfig) as setting
       from pg_db_role_setting s where s.setdatabase = $1 order by 1 nulls first`,
    [row.oid],
  )
  return {
    owner: row.owner,
    encoding: row.encoding,
    collate: row.collate,
    ctype: row.ctype,
    localeProvider: row.provider === 'i' ? 'icu' : 'libc',
    ...(row.icu ? { icuLocale: row.icu } : {}),
    connectionLimit: row.limit,
    privileges,
    settings,
    ...(row.comment !== null ? { comment: row.comment } : {}),
  }
}

/** Every role the properties name: they must exist where the database is created. */
export function propertyRoles(properties: DatabaseProperties, options: { owners: boolean; privileges: boolean }): string[] {
  const roles = new Set<string>()
  if (options.owners) roles.add(properties.owner)
  if (options.privileges) for (const p of properties.privileges ?? []) if (p.grantee !== 'PUBLIC') roles.add(p.grantee)
  for (const s of properties.settings) if (s.role) roles.add(s.role)
  return [...roles]
}

/** CREATE DATABASE from template0 (a dump restores into an empty database) with the same encoding, locale and owner. */
export function createDatabaseSql(client: Client, name: string, properties: DatabaseProperties | undefined, options: { owners: boolean }): string {
  if (!properties) return `create database ${quoteIdent(name)}`
  const parts = [
    `create database ${quoteIdent(name)} template template0`,
    `encoding ${client.escapeLiteral(properties.encoding)}`,
    `locale_provider ${properties.localeProvider}`,
    `lc_collate ${client.escapeLiteral(properties.collate)}`,
    `lc_ctype ${client.escapeLiteral(properties.ctype)}`,
  ]
  if (properties.icuLocale) parts.push(`icu_locale ${client.escapeLiteral(properties.icuLocale)}`)
  if (options.owners) parts.push(`owner ${quoteIdent(properties.owner)}`)
  return parts.join(' ')
}

/** Settings whose value is a list of quoted items (pg_dump's variable_is_guc_list_quote). */
const LIST_QUOTED = new Set(['local_preload_libraries', 'search_path', 'session_preload_libraries', 'shared_preload_libraries', 'temp_tablespaces', 'unix_socket_directories'])

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
  const values = LIST_QUOTED.has(name.toLowerCase()) ? splitSettingList(value).map((v) => client.escapeLiteral(v)).join(', ') : client.escapeLiteral(value)
  const target = entry.role ? `alter role ${quoteIdent(entry.role)} in database ${quoteIdent(database)}` : `alter database ${quoteIdent(database)}`
  return `${target} set ${quoteIdent(name)} = ${values}`
}

/**
 * Gives a new database the connection limit, privileges, settings and comment of the recorded one. Each
 * statement stands alone: one that fails (a setting this server does not know) is reported,
 * the others still apply.
 */
export async function applyDatabaseProperties(client: Client, name: string, properties: DatabaseProperties, options: { owners: boolean; privileges: boolean }): Promise<{ applied: number; failed: string[] }> {
  const statements: string[] = []
  const db = quoteIdent(name)
  // A low connection limit would have stood in the way of pg_restore's parallel jobs: set last.
  if (properties.connectionLimit !== -1) statements.push(`alter database ${db} connection limit ${properties.connectionLimit}`)
  if (options.privileges && properties.privileges) {
    statements.push(`revoke all on database ${db} from public`)
    // Without the recorded owner (--no-owner) the owner's own privileges stay as created.
    if (options.owners) statements.push(`revoke all on database ${db} from ${quoteIdent(properties.owner)}`)
    for (const p of properties.privileges) {
      if (!options.owners && p.grantee === properties.owner) continue
      const grantee = p.grantee === 'PUBLIC' ? 'public' : quoteIdent(p.grantee)
      statements.push(`grant ${p.privilege.toLowerCase()} on database ${db} to ${grantee}${p.grantable ? ' with grant option' : ''}`)
    }
  }
  for (const entry of properties.settings) statements.push(settingSql(client, name, entry))
  if (properties.comment !== undefined) statements.push(`comment on database ${db} is ${client.escapeLiteral(properties.comment)}`)
  const failed: string[] = []
  for (const statement of statements) {
    try {
      await client.query(statement)
    } catch (error) {
      failed.push(`${statement}: ${(error as Error).message}`)
    }
  }
  return { applied: statements.length - failed.length, failed }
}
