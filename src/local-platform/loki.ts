import { constants, existsSync, readFileSync } from 'node:fs'
import { access, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { dump } from 'js-yaml'
import { describeError } from '../errors.js'
import { findExecutable, runProgram, runProgramToSuccess } from '../systems/programs.js'
import { answersHttp, startReadyService, type RunningService } from './services.js'

/**
 * Grafana Loki for a local platform. Debian has none (its `loki` package is an unrelated genetics
 * program): the binary is given, found on PATH, or installed by the shared tools' install.sh
 * (Loki 2.4.2, checked against its sha256) into the repository's .tools/. It runs as one process
 * with filesystem storage, a boltdb-shipper index and an in-memory ring; `frontend.address` must
 * be set, or its queries hang for minutes. It is ready after about 10 s.
 */

export const LOKI_VERSION = '2.4.2'

/** The repository this toolkit is part of: src/local-platform/ and dist/local-platform/ are two levels down. */
const REPOSITORY = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Where install.sh puts the binary: a cache per version, kept between runs (.tools/ is not in git). */
export const LOKI_CACHE = join(REPOSITORY, '.tools', `loki-${LOKI_VERSION}`, 'loki')

/**
 * The checkout a git worktree belongs to: its .git is a file naming .git/worktrees/NAME in that
 * checkout's repository, whose commondir leads back to the repository.
 */
function mainCheckout(repository: string): string | undefined {
  try {
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(join(repository, '.git'), 'utf8'))?.[1]?.trim()
    if (!gitdir) return undefined
    const common = resolve(repository, gitdir, readFileSync(join(resolve(repository, gitdir), 'commondir'), 'utf8').trim())
    return dirname(common)
  } catch {
    // a plain checkout (.git is a directory), or no git at all
    return undefined
  }
}

/** The shared tools' install script: beside the repository (as on CI), or beside the checkout this worktree belongs to. */
export const LOKI_INSTALL_SCRIPTS = [...new Set([REPOSITORY, mainCheckout(REPOSITORY)].filter((dir) => dir !== undefined))].map((dir) =>
  join(dir, '../shared/tools/loki/install.sh'),
)

export interface LokiBinary {
  path: string
  /** How it was found. */
  source: 'given' | 'PATH' | 'cache' | 'installed'
  version: string
}

/** The version a Grafana Loki binary reports, or why `path` is not one. */
export async function lokiVersion(path: string): Promise<{ version: string } | { problem: string }> {
  try {
    await access(path, constants.X_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return { problem: code === 'ENOENT' ? 'no such file' : `not an executable file (${code})` }
  }
  try {
    const result = await runProgram(path, ['-version'], { timeoutMs: 10_000 })
    const version = /^loki, version (\S+)/m.exec(result.stdout)?.[1]
    return version ? { version } : { problem: 'not Grafana Loki (`-version` does not say "loki, version")' }
  } catch (error) {
    return { problem: `\`${path} -version\` failed: ${describeError(error)}` }
  }
}

export interface LocateLokiOptions {
  /** A binary the user named (a flag): it must be Grafana Loki, or this throws. */
  given?: string
  /** Install it from the shared tools when it is nowhere else (true by default). */
  install?: boolean
  /** What was passed over on the way (a `loki` on PATH that is not Grafana's). */
  notes?: string[]
}

/** Thrown when a binary the user named is not Grafana Loki. */
export class LokiNotUsable extends Error {}

/** Grafana Loki: the given binary, `loki` on PATH, the cached one, or one installed now; undefined when there is none. */
export async function locateLoki(options: LocateLokiOptions = {}): Promise<LokiBinary | undefined> {
  if (options.given !== undefined) {
    const checked = await lokiVersion(options.given)
    if ('problem' in checked) throw new LokiNotUsable(`${options.given}: ${checked.problem}`)
    return { path: options.given, source: 'given', version: checked.version }
  }
  const onPath = await findExecutable('loki')
  if (onPath) {
    const checked = await lokiVersion(onPath)
    if ('version' in checked) return { path: onPath, source: 'PATH', version: checked.version }
    options.notes?.push(`${onPath} is ${checked.problem}; passed over`)
  }
  if (existsSync(LOKI_CACHE)) {
    const checked = await lokiVersion(LOKI_CACHE)
    if ('version' in checked) return { path: LOKI_CACHE, source: 'cache', version: checked.version }
  }
  if (options.install === false) return undefined
  const script = LOKI_INSTALL_SCRIPTS.find((candidate) => existsSync(candidate))
  if (!script) return undefined
  try {
    await runProgramToSuccess('/bin/bash', [script, LOKI_CACHE], { timeoutMs: 120_000 })
  } catch (error) {
    options.notes?.push(`${script} could not install Loki: ${describeError(error)}`)
    return undefined
  }
  const checked = await lokiVersion(LOKI_CACHE)
  if ('problem' in checked) {
    options.notes?.push(`${script} installed ${LOKI_CACHE}, but it is ${checked.problem}`)
    return undefined
  }
  return { path: LOKI_CACHE, source: 'installed', version: checked.version }
}

/** What to do when there is no Loki, for messages. */
export const LOKI_HINT = `Loki is not in Debian: pass a Grafana Loki binary, put \`loki\` on PATH, or keep the shared tools' install.sh beside the repository (${LOKI_INSTALL_SCRIPTS[0]})`

export interface LokiConfigOptions {
  port: number
  grpcPort: number
  /** Its data (chunks, index, WAL, compactor) goes under DIR/data. */
  dir: string
}

/** A single-process Loki 2.4 configuration on 127.0.0.1, everything under one directory. */
export function lokiConfig({ port, grpcPort, dir }: LokiConfigOptions): string {
  const data = join(dir, 'data')
  const config = {
    auth_enabled: false,
    server: { http_listen_address: '127.0.0.1', http_listen_port: port, grpc_listen_address: '127.0.0.1', grpc_listen_port: grpcPort, log_level: 'warn' },
    common: {
      path_prefix: data,
      storage: { filesystem: { chunks_directory: join(data, 'chunks'), rules_directory: join(data, 'rules') } },
      replication_factor: 1,
      ring: { instance_addr: '127.0.0.1', kvstore: { store: 'inmemory' } },
    },
    schema_config: {
      configs: [{ from: '2020-10-24', store: 'boltdb-shipper', object_store: 'filesystem', schema: 'v11', index: { prefix: 'index_', period: '24h' } }],
    },
    // Without it the query frontend's workers never find it, and every query hangs.
    frontend: { address: '127.0.0.1' },
    ingester: { lifecycler: { address: '127.0.0.1', final_sleep: '0s' }, wal: { dir: join(data, 'wal') } },
    // A fleet of thousands of agents pushes a stream per agent and level.
    limits_config: {
      reject_old_samples: true,
      reject_old_samples_max_age: '168h',
      ingestion_rate_mb: 64,
      ingestion_burst_size_mb: 128,
      max_streams_per_user: 0,
      max_global_streams_per_user: 0,
    },
  }
  return `# Loki for a local platform\n${dump(config, { lineWidth: -1, noRefs: true })}`
}

export interface LokiOptions extends LokiConfigOptions {
  binary: string
  logFile: string
  newSession?: boolean
  onStarted?: (service: RunningService) => void | Promise<void>
}

export async function startLokiServer(options: LokiOptions): Promise<RunningService & { url: string; configFile: string }> {
  const configFile = join(options.dir, 'loki.yaml')
  // Made beforehand: Loki's ruler complains of them missing.
  for (const sub of ['rules', 'rules-temp']) await mkdir(join(options.dir, 'data', sub), { recursive: true })
  await writeFile(configFile, lokiConfig(options), { mode: 0o644 })
  const url = `http://127.0.0.1:${options.port}`
  const service = await startReadyService(
    { name: 'loki', command: options.binary, args: [`-config.file=${configFile}`], logFile: options.logFile, cwd: options.dir, newSession: options.newSession },
    // About 10 s on an idle machine; a loaded one takes longer.
    { what: `loki at ${url} to answer GET /ready`, probe: () => answersHttp(`${url}/ready`), timeoutMs: 90_000, intervalMs: 250 },
    options.onStarted,
  )
  return Object.assign(service, { url, configFile })
}
