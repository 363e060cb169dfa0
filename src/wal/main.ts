import { hostname } from 'node:os'
import { HintedError } from '../errors.js'
import { loadParsedConfig, resolveConfig } from '../config/load.js'
import type { ParsedConfig } from '../config/schema.js'
import { openRepositories } from '../repositories/open.js'
import { oneLine } from './archive.js'
import { fetchWal, WalFetchRefusal, type FetchResult } from './fetch.js'
import { pushFailureLines, pushSucceeded, pushWal, WalFileRefusal, type PushResult } from './push.js'

/**
 * `probe-ops wal push <path>` and `probe-ops wal fetch <name> <path>`, as PostgreSQL runs them
 * (archive_command, restore_command): once per 16 MB of WAL, so bin/run.js comes here without
 * oclif, and this loads only the configuration, the repositories and what a push or fetch uses
 * (design-14 §4.6). Not jobs: no lock, no report, no metrics. stderr is PostgreSQL's log: one
 * line per problem, "probe-ops: wal push: …", never a secret.
 *
 * Exit codes PostgreSQL understands (§1.6): push 0 (every repository holds it) or 1 (anything
 * else, which PostgreSQL counts and retries; above 125 would restart the archiver uncounted);
 * fetch 0 (restored), 1 (every repository answered and none has it: recovery ends there) or 128
 * (anything else, bad usage included: recovery stops rather than ending early on a hole).
 */

export const FETCH_UNKNOWN = 128

/** How long past its bound a push may take to end by itself. */
const BACKSTOP_S = 5

export interface WalIo {
  stderr(line: string): void
  env?: Record<string, string | undefined>
}

const defaultIo: WalIo = { stderr: (line) => void process.stderr.write(`${line}\n`) }

class WalUsage extends Error {}

interface Arguments {
  positional: string[]
  config?: string
}

function parseArguments(argv: readonly string[], count: number, usage: string): Arguments {
  const positional: string[] = []
  let config: string | undefined
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!
    if (word === '--config') {
      config = argv[++index]
      if (config === undefined) throw new WalUsage(`--config needs a path (${usage})`)
    } else if (word.startsWith('--config=')) config = word.slice('--config='.length)
    else if (word.startsWith('-') && word !== '-') throw new WalUsage(`unknown flag ${word} (${usage})`)
    else positional.push(word)
  }
  if (positional.length !== count) throw new WalUsage(`expected ${count === 1 ? 'one argument' : `${count} arguments`}: ${usage}`)
  return { positional, ...(config === undefined ? {} : { config }) }
}

function describeFailure(error: unknown): string {
  const line = oneLine(error)
  return error instanceof HintedError && error.hint ? `${line} (${error.hint})` : line
}

/** Appends one JSON line to the maintenance log, when PostgreSQL's user may (else stderr alone carries it). */
async function logLine(config: ParsedConfig, level: 'error' | 'warning', message: string): Promise<void> {
  if (!config.log.file) return
  const { appendLines } = await import('../lib/files.js')
  const line = JSON.stringify({ timestamp: new Date().toISOString(), level, message, module: 'probe-ops.wal', host: config.host ?? hostname() })
  await appendLines(config.log.file, [line]).catch(() => undefined)
}

/** A conflict is a person's decision: ProbeOpsWalConflict (critical) to AlertManager, bounded to 2 s, and never in the way of the exit. */
async function alertConflict(path: string | null, env: WalIo['env'], result: PushResult, stderr: WalIo['stderr']): Promise<void> {
  try {
    const config = resolveConfig(loadParsedConfig(path ?? undefined, env).parsed, path, env)
    const { syncAlerts } = await import('../systems/alert-sync.js')
    const bounded = { ...config, alertmanager: { ...config.alertmanager, timeoutMs: Math.min(2000, config.alertmanager.timeoutMs) } }
    const conflicts = result.outcomes.filter((outcome) => outcome.state === 'conflict')
    await syncAlerts(
      bounded,
      conflicts.map((outcome) => ({
        alertname: 'ProbeOpsWalConflict',
        severity: 'critical',
        labels: { segment: result.name, repository: outcome.repository },
        summary: `${result.name} is already archived in ${outcome.repository} with other content: archiving has stopped`,
        firing: true,
      })),
      (delivery) => {
        if (!delivery.delivered) stderr(`probe-ops: wal push: the ProbeOpsWalConflict alert was not delivered: ${delivery.error ?? 'unknown error'}`)
      },
    )
  } catch (error) {
    stderr(`probe-ops: wal push: the ProbeOpsWalConflict alert was not sent: ${oneLine(error)}`)
  }
}

/** The owner of a segment root is asked to push, when it is another user's (PostgreSQL's); undefined otherwise or when it cannot be seen (the push says why). */
async function ownedByAnother(path: string): Promise<number | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const { lstat } = await import('node:fs/promises')
  const owner = await lstat(path).then(
    (info) => info.uid,
    () => undefined,
  )
  return owner === undefined || owner === 0 ? undefined : owner
}

function boundOf(config: ParsedConfig): number {
  return config.backup.wal.pushTimeoutSeconds * 1000
}

export async function walPush(argv: readonly string[], io: WalIo = defaultIo): Promise<number> {
  const say = (line: string) => io.stderr(`probe-ops: wal push: ${line}`)
  let loaded: ReturnType<typeof loadParsedConfig>
  let path: string
  try {
    const args = parseArguments(argv, 1, 'probe-ops wal push <path> [--config FILE]')
    path = args.positional[0]!
    loaded = loadParsedConfig(args.config, io.env ?? process.env)
  } catch (error) {
    say(describeFailure(error))
    return 1
  }
  const { parsed } = loaded
  const foreignOwner = await ownedByAnother(path)
  if (foreignOwner !== undefined) {
    say(
      `${path} belongs to uid ${foreignOwner}, and this is root: as root, a push would leave directories in the local wal/ that PostgreSQL's user cannot write to; run it as that user (sudo -u '#${foreignOwner}' probe-ops wal push …)`,
    )
    return 1
  }
  const bound = boundOf(parsed)
  const signal = AbortSignal.timeout(bound)
  // The signal cuts every request; this is for what no signal reaches (a child process, a file system that hangs).
  setTimeout(
    () => {
      say(`still running ${bound / 1000 + BACKSTOP_S} s after it began: given up; PostgreSQL will retry`)
      process.exit(1)
    },
    bound + BACKSTOP_S * 1000,
  ).unref()
  const encryption = parsed.backup.encryption
  let result: PushResult
  try {
    result = await pushWal({
      path,
      repositories: openRepositories(parsed.backup),
      encoding: { compress: parsed.backup.wal.compress, ...(encryption ? { recipients: encryption.recipients, runner: encryption.program } : {}) },
      host: parsed.host ?? hostname(),
      signal,
    })
  } catch (error) {
    const line = error instanceof WalFileRefusal ? error.message : signal.aborted ? `no answer within ${bound / 1000} s` : describeFailure(error)
    say(line)
    await logLine(parsed, 'error', `wal push: ${line}`)
    return 1
  }
  if (pushSucceeded(result)) return 0
  const lines = pushFailureLines(result).map((line) => (signal.aborted ? `${line} (the push was cut at ${bound / 1000} s)` : line))
  for (const line of lines) say(line)
  await logLine(parsed, 'error', `wal push: ${lines.join('; ')}`)
  if (result.outcomes.some((outcome) => outcome.state === 'conflict'))
    await alertConflict(loaded.path, io.env ?? process.env, result, (line) => io.stderr(line))
  return 1
}

export async function walFetch(argv: readonly string[], io: WalIo = defaultIo): Promise<number> {
  const say = (line: string) => io.stderr(`probe-ops: wal fetch: ${line}`)
  try {
    const args = parseArguments(argv, 2, 'probe-ops wal fetch <name> <path> [--config FILE]')
    const [name, path] = args.positional as [string, string]
    const { parsed } = loadParsedConfig(args.config, io.env ?? process.env)
    const bound = boundOf(parsed)
    const signal = AbortSignal.timeout(bound)
    const encryption = parsed.backup.encryption
    const result: FetchResult = await fetchWal({
      name,
      path,
      repositories: openRepositories(parsed.backup),
      ...(encryption?.identityFile === undefined ? {} : { identityFile: encryption.identityFile }),
      ...(encryption ? { runner: encryption.program } : {}),
      signal,
    })
    if (result.status === 'restored') return 0
    if (result.status === 'absent') return 1
    const cut = signal.aborted ? ` (cut at ${bound / 1000} s)` : ''
    say(`cannot tell whether ${name} is archived${cut}: ${result.reasons.join('; ')}`)
    return FETCH_UNKNOWN
  } catch (error) {
    say(error instanceof WalUsage || error instanceof WalFetchRefusal ? error.message : describeFailure(error))
    return FETCH_UNKNOWN
  }
}

/** The fast path's entry: argv after `wal`. */
export function walMain(argv: readonly string[], io: WalIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv
  return command === 'fetch' ? walFetch(rest, io) : walPush(rest, io)
}
