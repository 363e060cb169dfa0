import { chmod, chown, lstat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { ServiceConfig } from '../../config/model.js'
import { effectiveRepositories } from '../../config/repositories.js'
import { StepFailure, describeError } from '../../errors.js'
import { makeDirectories } from '../../lib/files.js'
import {
  clusterMismatch,
  currentCluster,
  ensureRepositoryCluster,
  readRepositoryFile,
  withNewGeneration,
  writeRepositoryFile,
  type ClusterIdentity,
} from '../../repositories/cluster.js'
import { REPOSITORY_FILE, WAL_DIRECTORY } from '../../repositories/layout.js'
import { openRepositories } from '../../repositories/open.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { firstUntraversable, postgresOsUser, type OsUser } from '../../systems/os-user.js'
import { queryRows, withPostgres } from '../../systems/postgres.js'
import { lastLine, runProgram } from '../../systems/programs.js'
import { defaultWalCommand, walProgram } from '../../wal/settings.js'
import type { WalSetupContext } from './context.js'
import type { WalRepositoriesData } from './data.js'

/**
 * wal-setup's repositories step: each repository gets its probe-ops-repository.json (the
 * cluster it belongs to, from pg_control_system()), and what `wal push`/`wal fetch` read as
 * PostgreSQL's OS user is made reachable to it: a local repository's wal/ is that user's, its
 * repository file readable by its group, and the files the configuration names are checked.
 */

function postgresService(context: WalSetupContext) {
  return context.config.services.find((service) => service.name === 'postgres')
}

async function clusterIdentity(context: WalSetupContext): Promise<ClusterIdentity> {
  return withPostgres(context.config.postgres, async (client) => {
    const [row] = await queryRows<{ id: string; version: string; number: number }>(
      client,
      `select system_identifier::text as id, current_setting('server_version') as version, current_setting('server_version_num')::int as number from pg_control_system()`,
    )
    return { systemIdentifier: row!.id, serverVersion: row!.version, major: Math.floor(row!.number / 10000) }
  })
}

/** A local repository made usable by PostgreSQL's user: wal/ its own (0700), the directory and the repository file open to its group. */
async function shareLocal(path: string, walPath: string, owner: OsUser): Promise<void> {
  await makeDirectories(walPath, 0o700)
  await chown(walPath, owner.uid, owner.gid)
  const root = await lstat(path)
  // Only a directory root owns is ours to open to the group; anything else is left as it is.
  if (root.isDirectory() && root.uid === 0) {
    await chown(path, 0, owner.gid)
    await chmod(path, (root.mode & 0o777) | 0o010)
  }
  const file = join(path, REPOSITORY_FILE)
  const info = await lstat(file)
  if (info.isFile() && info.uid === 0) {
    await chown(file, 0, owner.gid)
    await chmod(file, 0o640)
  }
}

/** The files `wal push`/`wal fetch` read, which PostgreSQL's user must reach: a finding for each it cannot. */
function unreachable(context: WalSetupContext, owner: OsUser): Finding[] {
  const { config } = context
  const files = [
    ...(config.source ? [{ what: 'the configuration', path: config.source }] : []),
    ...effectiveRepositories(config.backup).flatMap((r) =>
      r.type === 's3' && r.credentialsFile ? [{ what: `the credentials of ${r.name}`, path: r.credentialsFile }] : [],
    ),
    ...(config.backup.encryption?.identityFile ? [{ what: 'the age identity file', path: config.backup.encryption.identityFile }] : []),
    ...effectiveRepositories(config.backup).flatMap((r) => (r.type === 'local' ? [{ what: `repository ${r.name}`, path: join(r.path, REPOSITORY_FILE) }] : [])),
  ]
  return files.flatMap(({ what, path }) => {
    const blocked = firstUntraversable(dirname(path), owner)
    return blocked
      ? [
          {
            id: 'wal-file-unreachable',
            severity: 'high' as const,
            message: `PostgreSQL's OS user cannot reach ${what} (${path}): it may not enter ${blocked}`,
            fix: `give it search permission there (chmod o+x or a group), and make ${path} readable to it (root:postgres 0640)`,
          },
        ]
      : []
  })
}

export const repositoriesStep: StepDefinition<WalSetupContext, WalRepositoriesData> = {
  run: async (context, run) => {
    const { config } = context
    const identity = await clusterIdentity(context)
    const repositories = openRepositories(config.backup)
    const findings: Finding[] = []
    const states: WalRepositoriesData['repositories'] = []
    const applying = context.apply && !run.dryRun
    for (const repository of repositories) {
      if (applying && context.newArchive) {
        const file = await readRepositoryFile(repository, run.signal)
        if (file && clusterMismatch(repository, file, identity)) {
          const renewed = withNewGeneration(file, identity, new Date())
          await writeRepositoryFile(repository, renewed, run.signal)
          states.push({ name: repository.name, state: 'new-archive', archiveId: currentCluster(renewed).archiveId })
          continue
        }
      }
      if (applying) {
        const cluster = await ensureRepositoryCluster(repository, identity, { host: config.host, signal: run.signal })
        states.push({ name: repository.name, state: 'prepared', archiveId: cluster.archiveId })
        continue
      }
      const file = await readRepositoryFile(repository, run.signal)
      const mismatch = file && clusterMismatch(repository, file, identity)
      states.push({
        name: repository.name,
        state: mismatch ? 'other-cluster' : file ? 'ready' : 'not-prepared',
        ...(file ? { archiveId: currentCluster(file).archiveId } : {}),
      })
      if (mismatch)
        findings.push({
          id: 'wal-repository-other-cluster',
          severity: 'high',
          message: mismatch,
          fix: `point backup.repositories[${repository.name}] at a prefix of its own; if this server took the platform over (an upgrade, a restore), start a new archive generation there: probe-ops backup wal-setup --apply --new-archive`,
        })
      else if (!file)
        findings.push({
          id: 'wal-repository-not-prepared',
          severity: 'medium',
          message: `repository ${repository.name} has no ${REPOSITORY_FILE} yet`,
          fix: 'probe-ops backup wal-setup --apply',
        })
    }
    const service = postgresService(context)
    const owner = service?.runtime === 'docker' ? undefined : postgresOsUser(service?.dataDir)
    if (owner && process.getuid?.() === 0) {
      if (applying)
        for (const local of effectiveRepositories(config.backup))
          if (local.type === 'local') await shareLocal(local.path, local.walPath ?? join(local.path, WAL_DIRECTORY), owner)
      findings.push(...unreachable(context, owner))
    }
    const summary = states.map((s) => `${s.name}: ${s.state}${s.archiveId ? ` (archive ${s.archiveId})` : ''}`).join('; ')
    return { summary, findings, data: { repositories: states } }
  },
}

/** The words of `command` that name files (Node, bin/run.js), with the first directory on their way `owner` may not enter. */
function blockedOnTheWay(command: readonly string[], owner: OsUser): string | undefined {
  for (const word of command) {
    if (!word.startsWith('/')) continue
    const blocked = firstUntraversable(dirname(word), owner)
    if (blocked) return `it may not enter ${blocked}, on the way to ${word}`
  }
  return undefined
}

/** What a failed run said: its error line (node's "Error: Cannot find module …"), else its last line. */
function whyNot(result: { exitCode: number; stdout: string; stderr: string }): string {
  const lines = result.stderr.split('\n').map((line) => line.trim())
  return lines.find((line) => /^\w*Error\b/.test(line)) ?? lastLine(result.stderr) ?? lastLine(result.stdout) ?? `exit ${result.exitCode}`
}

/**
 * PostgreSQL runs archive_command as its own OS user: Node and probe-ops must be reachable to that
 * user (a copy under a 0700 directory is not, and every push would then fail while pg_wal grows),
 * and in a container they must be there at all. --apply is refused, with nothing changed, until
 * `<command> --version` runs where and as whom PostgreSQL runs it. As that user's uid and gid
 * alone: a copy only a supplementary group of it opens is refused too.
 */
export async function checkPostgresCanRun(context: WalSetupContext): Promise<void> {
  const service = postgresService(context)
  const command = walProgram(context.config.backup.wal, defaultWalCommand())
  if (service?.runtime === 'docker') return checkInContainer(context, service, command)
  const owner = postgresOsUser(service?.dataDir)
  if (!owner || owner.uid === 0 || process.getuid?.() !== 0) return
  const result = await runProgram(command[0]!, [...command.slice(1), '--version'], {
    user: owner,
    cwd: '/',
    // PostgreSQL's environment, not root's: no HOME of ours, no PG* settings.
    replaceEnv: true,
    env: { LC_ALL: 'C', ...(process.env.PATH ? { PATH: process.env.PATH } : {}) },
    timeoutMs: 15_000,
  }).catch((error: unknown) => ({ exitCode: -1, stdout: '', stderr: describeError(error) }))
  if (result.exitCode === 0) return
  throw new StepFailure(
    `PostgreSQL's OS user (uid ${owner.uid}) cannot run ${command.join(' ')} (${blockedOnTheWay(command, owner) ?? whyNot(result)}): nothing was changed`,
    'install Node 22 and probe-ops where that user can read them (search permission on every directory on the way, chmod o+x), or set backup.wal.command to a copy it can run',
  )
}

/** In a container: `docker exec <container> <command> --version` must work. */
async function checkInContainer(context: WalSetupContext, service: ServiceConfig, command: readonly string[]): Promise<void> {
  const { execInContainer } = await import('../../systems/docker.js')
  const { docker, id } = await context.runtimes.container(service)
  const result = await execInContainer(docker, id, [...command, '--version'], 15_000).catch((error: unknown) => ({
    exitCode: -1,
    output: describeError(error),
  }))
  if (result.exitCode === 0) return
  throw new StepFailure(
    `PostgreSQL runs in container ${service.container}, which cannot run ${command.join(' ')} (${result.output.split('\n').at(-1) || `exit ${result.exitCode}`}): nothing was changed`,
    `mount Node 22 (${command[0]}) and probe-ops (${command[1] ?? ''}) read-only into it at the same paths, with the configuration, credentials and identity files and backup.dir (docs/operations.md), or set backup.wal.command to what runs there`,
  )
}
