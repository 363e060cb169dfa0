import type { Client } from 'pg'
import type { PostgresConfig } from '../config/load.js'
import { sleep } from '../lib/time.js'
import { queryRows, quoteName, withPostgres, type ConnectOptions } from './postgres.js'

/**
 * Database administration on a PostgreSQL server: whole databases created, renamed, dropped,
 * closed to connections and emptied of sessions. All of it runs through the maintenance database
 * `postgres`, since the database acted on may be the one being replaced (or not exist at all).
 */

/** A connection to the maintenance database `postgres` for `work`, always closed. */
export async function withAdmin<T>(pg: PostgresConfig, work: (admin: Client) => Promise<T>, options: Omit<ConnectOptions, 'database'> = {}): Promise<T> {
  return withPostgres(pg, work, { ...options, database: 'postgres' })
}

export async function databaseExists(admin: Client, name: string): Promise<boolean> {
  return (await queryRows(admin, 'select 1 from pg_database where datname = $1', [name])).length > 0
}

/**
 * Whether a session's database holds anything of its own: a relation (table, view, sequence…) or
 * a function outside the system schemas that no extension brought. A database a container's
 * entrypoint just created holds nothing, and a backup of it keeps nothing.
 */
export async function holdsObjects(client: Client): Promise<boolean> {
  const own = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`
  const notFromExtension = (catalog: string, alias: string) =>
    `not exists (select 1 from pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${alias}.oid and d.deptype = 'e')`
  const [row] = await queryRows<{ holds: boolean }>(
    client,
    `select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and ${own} and ${notFromExtension('pg_class', 'c')})
         or exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${own} and ${notFromExtension('pg_proc', 'p')}) as holds`,
  )
  return row!.holds
}

export async function listDatabases(admin: Client): Promise<{ name: string; allowConnections: boolean }[]> {
  return queryRows<{ name: string; allowConnections: boolean }>(admin, 'select datname as name, datallowconn as "allowConnections" from pg_database order by 1')
}

/** The database's size in bytes, or undefined when there is no such database. */
export async function databaseSize(admin: Client, name: string): Promise<number | undefined> {
  const [row] = await queryRows<{ bytes: string }>(admin, 'select pg_database_size(datname) as bytes from pg_database where datname = $1', [name])
  return row === undefined ? undefined : Number(row.bytes)
}

/** Where the server keeps its files, as it says itself (a path on its own host). */
export async function dataDirectory(admin: Client): Promise<string> {
  const [row] = await queryRows<{ dir: string }>(admin, `select current_setting('data_directory') as dir`)
  return row!.dir
}

/** server_version_num: 150004 for 15.4. */
export async function serverVersionNumber(admin: Client): Promise<number> {
  const [row] = await queryRows<{ version: number }>(admin, `select current_setting('server_version_num')::int as version`)
  return row!.version
}

/**
 * Creates a database: empty (from template0, owned by the connecting user, server defaults), or as
 * `sql` says (a CREATE DATABASE made for it, with a recorded owner and locale).
 */
export async function createDatabase(admin: Client, name: string, sql = `create database ${quoteName(name)} template template0`): Promise<void> {
  await admin.query(sql)
}

/** Drops the database if it is there, ending its sessions (WITH FORCE). */
export async function dropDatabase(admin: Client, name: string): Promise<void> {
  await admin.query(`drop database if exists ${quoteName(name)} with (force)`)
}

export async function setConnectionsAllowed(admin: Client, name: string, allowed: boolean): Promise<void> {
  await admin.query(`alter database ${quoteName(name)} with allow_connections ${allowed}`)
}

/** How long endSessions waits for the ended sessions to be gone: backends take a moment to exit. */
const SESSIONS_GONE_MS = 5000

/**
 * Terminates the sessions of a database, or those named `applicationName`, other than this one,
 * and waits (up to `waitMs`) until they are gone. Returns how many were told to end.
 */
export async function endSessions(admin: Client, which: { database: string } | { applicationName: string }, waitMs = SESSIONS_GONE_MS): Promise<number> {
  const [column, value] = 'database' in which ? ['datname', which.database] : ['application_name', which.applicationName]
  const others = `from pg_stat_activity where ${column} = $1 and pid <> pg_backend_pid()`
  const ended = await queryRows<{ ended: boolean }>(admin, `select pg_terminate_backend(pid) as ended ${others}`, [value])
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline) {
    const [left] = await queryRows<{ n: number }>(admin, `select count(*)::int as n ${others}`, [value])
    if (left!.n === 0) break
    await sleep(100)
  }
  return ended.length
}

/**
 * Renames in one transaction: the live database (if `outgoing` is given) to `outgoing`, and
 * `incoming` (if given) to the live name. At every moment the live name is one whole database,
 * or none when there was none before. The database renamed away is first closed to connections
 * and emptied of sessions (a rename fails while one is there); both names are open again after.
 */
export async function renameDatabases(admin: Client, live: string, names: { incoming?: string; outgoing?: string }): Promise<void> {
  const { incoming, outgoing } = names
  if (outgoing) {
    await setConnectionsAllowed(admin, live, false)
    await endSessions(admin, { database: live })
  }
  await admin.query('begin')
  try {
    if (outgoing) await admin.query(`alter database ${quoteName(live)} rename to ${quoteName(outgoing)}`)
    if (incoming) await admin.query(`alter database ${quoteName(incoming)} rename to ${quoteName(live)}`)
    await admin.query('commit')
  } catch (error) {
    await admin.query('rollback').catch(() => undefined)
    if (outgoing) await setConnectionsAllowed(admin, live, true).catch(() => undefined)
    throw error
  }
  if (incoming) await setConnectionsAllowed(admin, live, true)
  if (outgoing) await setConnectionsAllowed(admin, outgoing, true)
}

/** What the server says of roles a restore would hand objects to: whether each exists, and whether this user may act as it. */
export async function rolesAvailable(admin: Client, names: readonly string[]): Promise<{ name: string; exists: boolean; member: boolean }[]> {
  return queryRows<{ name: string; exists: boolean; member: boolean }>(
    admin,
    // From PostgreSQL 16 a member may be denied SET ROLE, and OWNER TO needs it.
    `select n.name, r.oid is not null as exists,
            r.oid is not null and pg_has_role(current_user, r.oid, case when current_setting('server_version_num')::int >= 160000 then 'SET' else 'MEMBER' end) as member
       from unnest($1::text[]) n(name) left join pg_roles r on r.rolname = n.name`,
    [names],
  )
}

/** The connected role, and whether it is a superuser. */
export async function currentRole(admin: Client): Promise<{ name: string; superuser: boolean } | undefined> {
  const [me] = await queryRows<{ superuser: boolean; name: string }>(
    admin,
    `select rolsuper as superuser, current_user as name from pg_roles where rolname = current_user`,
  )
  return me
}
