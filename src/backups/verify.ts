import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { closePostgres, connectPostgres } from '../systems/postgres.js'
import { connectionArgs, runPgTool, toolError } from '../systems/pg-tools.js'
import type { ServiceRuntimes } from '../systems/services.js'
import { tableCounts } from './database.js'
import { sha256Directory, sha256File, type StoredBackup } from './store.js'

/** The data is what the manifest says it is: same size, same SHA-256. */
export async function verifyChecksum(backup: StoredBackup): Promise<{ bytes: number }> {
  const { manifest, path } = backup
  let info
  try {
    info = await stat(path)
  } catch {
    throw new StepFailure(`the data of backup ${manifest.id} is missing: ${path}`, 'the backup cannot be used; choose another (probe-ops backup list)')
  }
  const actual = info.isDirectory() ? await sha256Directory(path) : await sha256File(path)
  if (actual.bytes !== manifest.bytes) {
    throw new StepFailure(
      `backup ${manifest.id} is ${actual.bytes} bytes, its manifest says ${manifest.bytes}: truncated or changed`,
      'the backup cannot be trusted; choose another (probe-ops backup list)',
    )
  }
  if (actual.sha256 !== manifest.sha256) {
    throw new StepFailure(
      `backup ${manifest.id} does not match its checksum (sha256 ${actual.sha256.slice(0, 12)}… instead of ${manifest.sha256.slice(0, 12)}…)`,
      'the backup is corrupt; choose another (probe-ops backup list)',
    )
  }
  return { bytes: actual.bytes }
}

/**
 * Arguments and input that hand a dump to pg_restore: its path on this host, or its bytes
 * on standard input when pg_restore runs in a container that cannot see the file.
 */
export function dumpInput(config: Config, backup: StoredBackup): { args: string[]; stdin?: NodeJS.ReadableStream } {
  // A restore's copy from S3 (or encrypted) is read, checked and staged by its verify step.
  if (backup.path === '')
    throw new StepFailure(
      `${backup.manifest.id} has no copy on this host that pg_restore can read as it is`,
      'the verify step reads, checks and stages it: run the restore without --skip verify',
    )
  if (config.backup.runner === 'container') {
    if (backup.manifest.format === 'directory')
      throw new StepFailure('a directory-format dump cannot be restored by pg_restore inside a container', 'set backup.runner: host for this restore')
    return { args: [], stdin: createReadStream(backup.path) }
  }
  return { args: [backup.path] }
}

/** pg_restore --list: the archive is readable and says what it holds; `from`: its bytes as a stream (a copy in S3). */
export async function listArchive(
  config: Config,
  runtimes: ServiceRuntimes,
  backup: StoredBackup,
  from?: NodeJS.ReadableStream,
): Promise<{ entries: number; tables: number }> {
  const input = from ? { args: [], stdin: from } : dumpInput(config, backup)
  const { PassThrough } = await import('node:stream')
  const out = new PassThrough()
  let text = ''
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
  const result = await runPgTool(config, runtimes, 'pg_restore', ['--list', ...input.args], { stdout: out, stdin: input.stdin as never })
  if (result.exitCode !== 0) {
    throw new StepFailure(
      `${backup.manifest.data} is not a readable pg_dump archive: ${toolError(result, `pg_restore exit ${result.exitCode}`)}`,
      'choose another backup (probe-ops backup list)',
    )
  }
  const lines = text.split('\n').filter((l) => /^\d+;/.test(l))
  return { entries: lines.length, tables: lines.filter((l) => / TABLE DATA /.test(l)).length }
}

/** Whether a restore gives objects their recorded owners and privileges (GRANTs). */
export interface OwnershipOptions {
  owners: boolean
  privileges: boolean
}

/** pg_restore into an existing (empty) database, in parallel where the dump allows it. */
export async function restoreInto(
  config: Config,
  runtimes: ServiceRuntimes,
  backup: StoredBackup,
  database: string,
  ownership: OwnershipOptions,
  signal?: AbortSignal,
): Promise<void> {
  const input = dumpInput(config, backup)
  const parallel = input.stdin ? [] : [`--jobs=${config.backup.jobs}`]
  const omit = [...(ownership.owners ? [] : ['--no-owner']), ...(ownership.privileges ? [] : ['--no-privileges'])]
  const result = await runPgTool(
    config,
    runtimes,
    'pg_restore',
    [...connectionArgs(config), '-d', database, '--exit-on-error', ...omit, ...parallel, ...input.args],
    { stdin: input.stdin as never, signal },
  )
  if (result.exitCode !== 0) {
    const last = toolError(result)
    const role = /role "([^"]+)" does not exist/.exec(result.stderr)
    throw new StepFailure(
      `pg_restore into ${database} failed (exit ${result.exitCode}): ${last}`,
      role
        ? `the live database was not touched; create role ${role[1]} first, or restore without owners and privileges (--no-owner --no-privileges)`
        : 'the live database was not touched',
    )
  }
}

const ROLE = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
/** pg_dump's header above every object: `-- Name: tasks; Type: TABLE; Schema: public; Owner: app` (the owner unquoted). */
const OWNER_HEADER = /^-- Name: .*; Type: .*; Schema: .*; Owner: (.+)$/
const GRANTEE_PATTERNS = [
  new RegExp(`^(?:GRANT|REVOKE) .* (?:TO|FROM) ${ROLE}(?: WITH GRANT OPTION)?;$`),
  new RegExp(`^ALTER DEFAULT PRIVILEGES FOR ROLE ${ROLE} `),
  new RegExp(`^ALTER DEFAULT PRIVILEGES .* (?:TO|FROM) ${ROLE};$`),
  new RegExp(`^SET SESSION AUTHORIZATION ${ROLE};$`),
]

/** The roles a pg_restore SQL script names: owners (from the object headers), grantees, grantors. */
export function rolesInScript(script: string): { owners: string[]; grantees: string[] } {
  const owners = new Set<string>()
  const grantees = new Set<string>()
  for (const line of script.split('\n')) {
    const header = OWNER_HEADER.exec(line)
    if (header) {
      if (header[1] !== '-') owners.add(header[1]!)
      continue
    }
    for (const pattern of GRANTEE_PATTERNS) {
      const match = pattern.exec(line)?.[1]
      if (!match) continue
      if (match.startsWith('"')) grantees.add(match.slice(1, -1).replaceAll('""', '"'))
      else if (match.toLowerCase() !== 'public') grantees.add(match.toLowerCase())
    }
  }
  return { owners: [...owners].sort(), grantees: [...grantees].sort() }
}

/** The roles a restore of this archive will name, read from its schema (no data is read). */
export async function archiveRoles(
  config: Config,
  runtimes: ServiceRuntimes,
  backup: StoredBackup,
  signal?: AbortSignal,
): Promise<{ owners: string[]; grantees: string[] }> {
  const input = dumpInput(config, backup)
  const { PassThrough } = await import('node:stream')
  const out = new PassThrough()
  let script = ''
  out.on('data', (chunk: Buffer) => (script += chunk.toString('utf8')))
  const result = await runPgTool(config, runtimes, 'pg_restore', ['--schema-only', '-f', '-', ...input.args], {
    stdout: out,
    stdin: input.stdin as never,
    signal,
  })
  if (result.exitCode !== 0)
    throw new StepFailure(
      `pg_restore could not read the schema of ${backup.manifest.data}: ${toolError(result)}`,
      'choose another backup (probe-ops backup list)',
    )
  return rolesInScript(script)
}

export interface CountCheck {
  ok: boolean
  compared: number
  mismatches: { name: string; expected: number; actual: number | null }[]
}

/** The restored database's tables and row counts against the manifest's. */
export async function compareCounts(
  config: Config,
  database: string,
  expected: { name: string; rows: number }[] | undefined,
  only?: string[],
): Promise<CountCheck> {
  const client = await connectPostgres(config.postgres, { database, statementTimeoutMs: 0 })
  try {
    const actual = new Map((await tableCounts(client)).map((t) => [t.name, t.rows]))
    const wanted = (expected ?? []).filter((t) => !only || only.includes(t.name))
    const mismatches = wanted.filter((t) => actual.get(t.name) !== t.rows).map((t) => ({ name: t.name, expected: t.rows, actual: actual.get(t.name) ?? null }))
    return { ok: mismatches.length === 0, compared: wanted.length, mismatches }
  } finally {
    await closePostgres(client)
  }
}
