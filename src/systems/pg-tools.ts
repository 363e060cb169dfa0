import { randomBytes } from 'node:crypto'
import { join, relative } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import type { Config } from '../config/load.js'
import { StepFailure, describeError } from '../errors.js'
import { asUser, type OsUser } from './os-user.js'
import { runInOwnGroup, startProgram } from './process-group.js'
import type { ServiceRuntimes } from './services.js'

/**
 * PostgreSQL's own programs (pg_dump, pg_restore, psql), run on this host or inside the
 * postgres service's container. The password reaches them through the environment (the
 * process environment, or the exec's environment in the Docker API), never through argv.
 */

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql' | 'pg_basebackup'

export interface PgToolRun {
  /** Feeds the program's standard input. */
  stdin?: Readable
  /** Receives its standard output; without one, output is discarded. */
  stdout?: Writable
  signal?: AbortSignal
  /** Connect to this database instead of the configured one (-d is added for pg_dump/psql/pg_restore). */
  database?: string
  /**
   * The tool's sessions' application_name, from sessionTag(), when the caller has sessions of its
   * own to end with them on abort (the caller then ends them); by default the run names its own.
   */
  applicationName?: string
}

export interface PgToolResult {
  exitCode: number
  /** The last lines of its standard error, for the report. */
  stderr: string
}

/** -h/-p/-U for the tool, as seen from where it runs. */
export function connectionArgs(config: Config): string[] {
  const pg = config.postgres
  return ['-h', config.backup.runner === 'container' ? 'localhost' : pg.host, '-p', String(pg.port), '-U', pg.user, '--no-password']
}

function passwordEnv(config: Config, applicationName: string): Record<string, string> {
  const env: Record<string, string> = { PGAPPNAME: applicationName, PGCONNECT_TIMEOUT: String(Math.ceil(config.postgres.connectTimeoutMs / 1000)) }
  if (config.postgres.password) env.PGPASSWORD = config.postgres.password.reveal()
  if (config.postgres.sslmode !== 'disable') env.PGSSLMODE = config.postgres.sslmode
  return env
}

/** Enough of the end to hold the error even behind a long `Command was:` statement. */
function lastLines(text: string, n = 60): string {
  return text.trim().split('\n').slice(-n).join('\n')
}

/** An application_name unique to one run, for its server sessions and endSessions(). */
export function sessionTag(what: string): string {
  return `probe-ops ${what} ${process.pid} ${randomBytes(4).toString('hex')}`
}

/** How long an abort may spend ending its sessions: the step's cleanup time is 10 s. */
const END_SESSIONS_MS = 3000

/**
 * Ends the server sessions named `tag` (those of an aborted run). Killing the program is not
 * enough: a backend waiting for a lock, or busy in a long statement, does not notice that its
 * client is gone and keeps its locks; in a container the program itself outlives the closed exec
 * stream until it writes. Through the configured database (pg_hba may allow no other), else
 * `postgres` (the configured one may be what is being restored). Best effort and bounded: a
 * server that cannot be reached has nothing to end.
 */
export async function endSessions(config: Config, tag: string): Promise<void> {
  const { withPostgres } = await import('./postgres.js')
  const { endSessions: terminate } = await import('./postgres-admin.js')
  const { withTimeout } = await import('../lib/time.js')
  const end = (database: string) =>
    withPostgres(config.postgres, (client) => terminate(client, { applicationName: tag }, 0), {
      database,
      connectTimeoutMs: END_SESSIONS_MS / 2,
      statementTimeoutMs: END_SESSIONS_MS / 2,
    })
  await withTimeout(
    'ending the sessions',
    END_SESSIONS_MS,
    end(config.postgres.database).catch(() => end('postgres')),
  ).catch(() => undefined)
}

/**
 * Pipes the tool's input in. An input that fails to read (a dump file that went away, a bad disk)
 * must not be an unhandled 'error' event: it ends the tool's input, and the tool's run then fails
 * with it rather than with whatever the cut input made the tool say.
 */
function feedInput(source: Readable, target: Writable, options?: { end: boolean }): { throwIfFailed(tool: PgTool): void } {
  let failure: unknown
  source.once('error', (error) => {
    failure = error
    target.destroy()
  })
  source.pipe(target, options)
  return {
    throwIfFailed(tool) {
      if (failure !== undefined) throw new StepFailure(`${tool}: its input could not be read: ${describeError(failure)}`)
    },
  }
}

async function runOnHost(config: Config, tool: PgTool, args: string[], run: PgToolRun, applicationName: string): Promise<PgToolResult> {
  const path = join(config.backup.binDir, tool)
  const { subprocess: child } = await startProgram(path, args, {
    env: passwordEnv(config, applicationName),
    stdin: run.stdin ? 'pipe' : 'ignore',
    stdout: run.stdout ? 'pipe' : 'ignore',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    reject: false,
    cancelSignal: run.signal,
  })
  const input = run.stdin ? feedInput(run.stdin, child.stdin!) : undefined
  if (run.stdout) child.stdout!.pipe(run.stdout, { end: false })
  const result = await child
  input?.throwIfFailed(tool)
  if (result.failed && result.exitCode === undefined) {
    const code = (result as { code?: string }).code
    if (code === 'ENOENT') throw new StepFailure(`${path} is not installed`, 'install postgresql-client-15, or set backup.binDir')
    throw new StepFailure(`${tool}: ${result.shortMessage}`)
  }
  return { exitCode: result.exitCode ?? 1, stderr: lastLines(String(result.stderr ?? '')) }
}

async function runInContainer(
  config: Config,
  runtimes: ServiceRuntimes,
  tool: PgTool,
  args: string[],
  run: PgToolRun,
  applicationName: string,
): Promise<PgToolResult> {
  const postgres = config.services.find((s) => s.name === 'postgres')
  if (!postgres)
    throw new StepFailure('backup.runner is "container" but no postgres service is configured', 'configure services.postgres, or set backup.runner: host')
  const { docker, id } = await runtimes.container(postgres)
  const env = Object.entries(passwordEnv(config, applicationName)).map(([k, v]) => `${k}=${v}`)
  const exec = await docker
    .getContainer(id)
    .exec({ Cmd: [join(config.backup.binDir, tool), ...args], Env: env, AttachStdin: Boolean(run.stdin), AttachStdout: true, AttachStderr: true, Tty: false })
  const stream = await exec.start({ hijack: true, stdin: Boolean(run.stdin) })
  const { PassThrough } = await import('node:stream')
  const stderr = new PassThrough()
  let errText = ''
  stderr.on('data', (chunk: Buffer) => {
    errText = (errText + chunk.toString('utf8')).slice(-8192)
  })
  const sink = run.stdout ?? new PassThrough().resume()
  docker.modem.demuxStream(stream, sink, stderr)
  // The exec's stream is a socket: only half-closed at the end of the input, so the output still comes back.
  const input = run.stdin ? feedInput(run.stdin, stream, { end: false }) : undefined
  run.stdin?.once('end', () => (stream as unknown as { end(): void }).end())
  // The Docker API cannot signal an exec'd process: closing its stream only ends it once it writes.
  run.signal?.addEventListener('abort', () => stream.destroy())
  if (run.signal?.aborted) stream.destroy()
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve)
    stream.once('close', resolve)
    stream.once('error', reject)
  })
  input?.throwIfFailed(tool)
  const inspected = await exec.inspect()
  return { exitCode: inspected.ExitCode ?? 1, stderr: lastLines(errText) }
}

/** What the operating system says when a write fails for the disk's sake (strerror's words). */
const DISK_TROUBLE = /No space left on device|Disk quota exceeded|Read-only file system|Input\/output error/i

/**
 * The line of a tool's error output that says what went wrong. pg_restore follows an error with
 * `Command was: <the SQL>`, which is not the reason and may hold secrets (a subscription's
 * connection string, a user mapping's password): it is never quoted.
 */
export function toolError(result: PgToolResult, fallback = 'no error output'): string {
  const said: string[] = []
  let inCommand = false
  for (const line of result.stderr.split('\n')) {
    if (/^(pg_dump|pg_restore|pg_basebackup|psql)(: |:[^ ])/.test(line)) inCommand = false
    else if (line.startsWith('Command was:')) inCommand = true
    if (!inCommand && line.trim()) said.push(line.trim())
  }
  // A full disk makes parallel workers die, and "a worker process died unexpectedly" comes last.
  return said.find((l) => DISK_TROUBLE.test(l)) ?? said.findLast((l) => /error|fatal|panic/i.test(l)) ?? said.at(-1) ?? fallback
}

export async function runPgTool(config: Config, runtimes: ServiceRuntimes, tool: PgTool, args: string[], run: PgToolRun = {}): Promise<PgToolResult> {
  // Names this run's server sessions, so that an abort can end exactly them.
  const applicationName = run.applicationName ?? sessionTag(tool)
  let ending: Promise<void> | undefined
  const onAbort = (): void => {
    ending = endSessions(config, applicationName)
  }
  if (!run.applicationName) {
    run.signal?.addEventListener('abort', onAbort, { once: true })
    if (run.signal?.aborted) onAbort()
  }
  try {
    return config.backup.runner === 'container'
      ? await runInContainer(config, runtimes, tool, args, run, applicationName)
      : await runOnHost(config, tool, args, run, applicationName)
  } catch (error) {
    if (error instanceof StepFailure) throw error
    throw new StepFailure(`${tool}: ${describeError(error)}`)
  } finally {
    run.signal?.removeEventListener('abort', onAbort)
    await ending
  }
}

/** Runs a tool and turns a non-zero exit into a failure that quotes its error output. */
export async function runPgToolChecked(config: Config, runtimes: ServiceRuntimes, tool: PgTool, args: string[], run: PgToolRun = {}): Promise<void> {
  const result = await runPgTool(config, runtimes, tool, args, run)
  if (result.exitCode !== 0) {
    throw new StepFailure(
      `${tool} failed (exit ${result.exitCode}): ${result.stderr.split('\n').at(-1) || 'no error output'}`,
      'its full error output is in the report data',
    )
  }
}

/**
 * pg_ctl for a cluster of probe-ops' own making (a point-in-time recovery's side cluster), as the
 * OS user that owns its data directory. Whether it did what it was asked, with what it said: a
 * pg_ctl that fails, times out or cannot run is `ok: false`, never a throw, so that the caller
 * can undo what it began.
 */
export async function pgCtl(
  config: Readonly<Config>,
  args: readonly string[],
  options: { user?: OsUser; timeoutMs: number; signal?: AbortSignal },
): Promise<{ ok: boolean; exitCode?: number; output: string }> {
  const result = await runInOwnGroup(join(config.backup.binDir, 'pg_ctl'), args, {
    ...asUser(options.user),
    reject: false,
    timeout: options.timeoutMs,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    // pg_ctl start, cut with SIGINT, also tells the postmaster it started to shut down.
    killSignal: 'SIGINT',
    stdin: 'ignore',
    all: true,
  })
  const output = String(result.all ?? '').trim()
  if (result.exitCode === undefined && !result.timedOut && !result.isCanceled)
    return { ok: false, output: output || `pg_ctl could not run: ${(result.shortMessage ?? '').split('\n')[0]}` }
  return { ok: result.exitCode === 0, exitCode: result.exitCode, output }
}

/** How long unpacking a base backup may take: it is bounded by the step's own signal long before. */
const UNPACK_BOUND_MS = 6 * 3_600_000

/**
 * Unpacks a base backup into an empty data directory: pg_basebackup's single zstd tar stream
 * (<id>.base.tar.zst, with the WAL it needs inside), or the directory older versions wrote
 * (base.tar.gz, and the WAL in pg_wal.tar.gz).
 */
export async function unpackBaseBackup(backupPath: string, into: string, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { readdir, stat } = await import('node:fs/promises')
  const { runProgramToSuccess } = await import('./programs.js')
  const untar = (args: string[]) => runProgramToSuccess('tar', args, { timeoutMs: UNPACK_BOUND_MS, signal: options.signal })
  if ((await stat(backupPath)).isFile()) {
    if (backupPath.endsWith('.age'))
      throw new StepFailure(
        `${backupPath} is encrypted: a point-in-time recovery here reads only plain base backups`,
        'decrypt it beside (age -d -i IDENTITY), or take a base backup without backup.encryption for this restore',
      )
    if (!backupPath.endsWith('.tar.zst')) throw new StepFailure(`${backupPath} is not a base backup probe-ops wrote`, 'choose another base backup')
    await untar(['--zstd', '-xf', backupPath, '-C', into])
    return
  }
  const files = await readdir(backupPath)
  if (!files.includes('base.tar.gz')) throw new StepFailure(`${backupPath} has no base.tar.gz`, 'the base backup is incomplete; take a new one')
  await untar(['-xzf', join(backupPath, 'base.tar.gz'), '-C', into])
  if (files.includes('pg_wal.tar.gz')) await untar(['-xzf', join(backupPath, 'pg_wal.tar.gz'), '-C', join(into, 'pg_wal')])
}

/**
 * Unpacks pg_basebackup's zstd tar stream, read from `stream`, into the empty data directory
 * `into`, as `user`: the archive comes from a repository, and an unprivileged tar can write
 * nothing that user could not (GNU tar also strips leading "/" and refuses ".."). Whatever tar
 * leaves unread (the padding after the archive's end, or the rest after it failed) is still read
 * through, so that the caller's checksums of the whole stream settle.
 */
export async function unpackBaseStream(stream: Readable, into: string, options: { user?: OsUser | undefined; signal: AbortSignal }): Promise<void> {
  const { subprocess: tar } = await startProgram('tar', ['--zstd', '-xf', '-', '-C', into], {
    ...asUser(options.user),
    stdin: 'pipe',
    stdout: 'ignore',
    stderr: 'pipe',
    reject: false,
    timeout: UNPACK_BOUND_MS,
    cancelSignal: options.signal,
    forceKillAfterDelay: 2000,
    env: { LC_ALL: 'C' },
  })
  const drain = () => {
    stream.unpipe(tar.stdin)
    stream.resume()
  }
  // tar gone before the end: its exit code says why; the stream is read through all the same.
  tar.stdin.on('error', drain)
  // A stream that broke (a decryption refused, a connection cut) ends tar's input: tar then fails on the truncated archive.
  stream.once('error', () => tar.stdin.destroy())
  stream.pipe(tar.stdin)
  const result = await tar
  drain()
  if (result.exitCode !== 0)
    throw new StepFailure(
      `tar could not unpack the base backup into ${into}: ${lastLines(String(result.stderr ?? ''), 1) || (result.shortMessage ?? '').split('\n')[0]}`,
      'the live cluster was not touched',
    )
}

/**
 * tar -czf of absolute `paths`, streamed into `sink`; the names in the archive are relative to /,
 * so that it restores anywhere with tar -C. Its exit code (or the signal that ended it) and the
 * end of what it said.
 */
export async function archivePaths(paths: readonly string[], sink: Writable, signal?: AbortSignal): Promise<{ exitCode: number | string; stderr: string }> {
  const { subprocess: tar } = await startProgram('tar', ['-C', '/', '-czf', '-', '--', ...paths.map((p) => relative('/', p) || '.')], {
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: { stdout: false },
    reject: false,
    cancelSignal: signal,
  })
  tar.stdout.pipe(sink, { end: false })
  const result = await tar
  return { exitCode: result.exitCode ?? result.signal ?? 'unknown', stderr: lastLines(String(result.stderr ?? '')) }
}
