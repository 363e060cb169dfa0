/**
 * A private Docker engine for integration tests (dockerd as root, everything under one short temp
 * dir), an image made of empty dirs, and helpers that run host binaries as containers
 * (`--network host`, host /usr /lib /lib64 /bin /sbin /etc bind-mounted read-only).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { execa } from 'execa'
import { freePort } from './ports.js'
import { clusterInfo } from '../../src/local-platform/postgres.js'
import { createDatabase, initDataDir, PG_BIN_DIR, pgClientConfig, randomPassword, waitForPostgres, type PostgresInfo } from './postgres.js'
import { GiveUp, logTail, osUser, pidsWithCmdline, removeDir, spawnService, stopService, track, waitUntil } from './process.js'

export const DOCKERD_BIN = '/usr/sbin/dockerd'
/** Debian's CLI (same release as the daemon) when present, else whatever `docker` is on PATH. */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker'
export const BED_IMAGE = 'probe-ops-bed:latest'
/** tini, shipped by docker.io; runs as PID 1 of helper containers so signals work. */
export const DOCKER_INIT = '/usr/bin/docker-init'
/** Host dirs every bed container sees read-only, so host binaries run inside. */
export const HOST_RO_MOUNTS = ['/usr', '/lib', '/lib64', '/bin', '/sbin', '/etc'] as const

export interface DockerEngineInfo {
  /** The engine's private dir D (short: unix socket paths are limited to ~108 bytes). */
  dir: string
  /** D/docker.sock */
  socketPath: string
  /** unix://D/docker.sock, for DOCKER_HOST or `docker -H`. */
  host: string
  /** pid of dockerd. */
  pid: number
  /** The image every helper runs: empty dirs only, host binaries come from bind mounts. */
  image: string
  /**
   * A dir (mode 0711, removed at teardown) where helpers put per-container host dirs (postgres
   * data and socket dirs). Tests may put their own bind-mount sources here too.
   */
  scratchDir: string
  logFile: string
}

export interface DockerEngine {
  info: DockerEngineInfo
  stop(): Promise<void>
}

export interface DockerCliResult {
  stdout: string
  stderr: string
  exitCode: number
}

/**
 * Run the docker CLI against the private engine (argument array, never a shell string).
 * Rejects on a non-zero exit unless `reject: false`.
 */
export async function dockerCli(
  engine: Pick<DockerEngineInfo, 'host'>,
  args: string[],
  opts: { timeoutMs?: number; reject?: boolean; input?: string } = {},
): Promise<DockerCliResult> {
  const r = await execa(DOCKER_CLI, ['-H', engine.host, ...args], {
    timeout: opts.timeoutMs ?? 60_000,
    reject: opts.reject ?? true,
    env: { DOCKER_CONFIG: undefined, DOCKER_CONTEXT: undefined, DOCKER_HOST: undefined },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  })
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 }
}

/** GET /_ping over the unix socket. */
export function dockerPing(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'))
    })
    req.on('timeout', () => req.destroy(new Error('docker /_ping timed out')))
    req.on('error', reject)
  })
}

function mountsUnder(dir: string): string[] {
  const prefix = `${dir}/`
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((mp): mp is string => mp !== undefined)
    .map((mp) => mp.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((mp) => mp === dir || mp.startsWith(prefix))
    .sort((a, b) => b.length - a.length)
}

async function unmountAll(dir: string): Promise<string[]> {
  const failures: string[] = []
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir)
    if (mounts.length === 0) return []
    for (const mp of mounts) {
      const r = await execa('umount', [mp], { reject: false, timeout: 10_000 })
      if (r.exitCode !== 0) {
        const lazy = await execa('umount', ['-l', mp], { reject: false, timeout: 10_000 })
        if (lazy.exitCode !== 0 && round === 2) failures.push(`${mp}: ${String(lazy.stderr)}`)
      }
    }
  }
  return [...failures, ...mountsUnder(dir).map((mp) => `${mp}: still mounted`)]
}

async function buildImage(engine: DockerEngineInfo): Promise<void> {
  const rootfs = path.join(engine.dir, 'rootfs')
  for (const d of ['usr', 'lib', 'lib64', 'bin', 'sbin', 'etc', 'tmp', 'run', 'var', 'var/tmp', 'data', 'sock', 'proc', 'dev', 'sys']) {
    await mkdir(path.join(rootfs, d), { recursive: true, mode: 0o755 })
  }
  await chmod(path.join(rootfs, 'tmp'), 0o1777)
  await chmod(path.join(rootfs, 'var/tmp'), 0o1777)
  const tarball = path.join(engine.dir, 'rootfs.tar')
  await execa('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', tarball, '.'], { timeout: 30_000 })
  await dockerCli(engine, ['import', tarball, engine.image])
  await removeDir(rootfs)
}

/** Remove every container of the engine (SIGKILL; volumes too). */
export async function removeAllContainers(engine: Pick<DockerEngineInfo, 'host'>): Promise<void> {
  const ids = (await dockerCli(engine, ['ps', '-aq'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean)
  if (ids.length > 0) await dockerCli(engine, ['rm', '-f', '-v', ...ids], { timeoutMs: 60_000 })
}

export async function startDockerEngine(): Promise<DockerEngine> {
  // Short on purpose: D/exec/containerd/... and D/docker.sock must fit in sun_path.
  const dir = await mkdtemp('/tmp/d')
  const scratchDir = await mkdtemp('/tmp/dbs')
  await chmod(scratchDir, 0o711)
  const tracked = track({ cmdlineNeedles: [`${dir}/`], mountRoots: [dir, scratchDir], dirs: [dir, scratchDir] })
  const socketPath = path.join(dir, 'docker.sock')
  const id = path.basename(dir)
  const info: DockerEngineInfo = {
    dir,
    socketPath,
    host: `unix://${socketPath}`,
    pid: -1,
    image: BED_IMAGE,
    scratchDir,
    logFile: path.join(dir, 'dockerd.log'),
  }
  // Our own config file: ignores /etc/docker/daemon.json, and keeps dockerd from writing its
  // trust key to /etc/docker/key.json.
  const configFile = path.join(dir, 'daemon.json')
  await writeFile(configFile, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }))

  let service: Awaited<ReturnType<typeof spawnService>> | undefined
  const stop = async (): Promise<void> => {
    const problems: string[] = []
    if (service && !service.exited) {
      try {
        await removeAllContainers(info)
      } catch (err) {
        problems.push(`removing containers: ${err instanceof Error ? err.message : String(err)}`)
      }
      await stopService(service, [['SIGTERM', 20_000]])
    }
    // containerd and shims that outlived dockerd (only when dockerd had to be killed).
    for (const pid of pidsWithCmdline(`${dir}/`)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    if (pidsWithCmdline(`${dir}/`).length > 0) await sleep(500)
    problems.push(...(await unmountAll(dir)))
    const netns = path.join(dir, 'exec/netns/default')
    if (existsSync(netns)) await execa('umount', [netns], { reject: false })
    try {
      await removeDir(dir)
      await removeDir(scratchDir)
    } catch (err) {
      problems.push(`removing ${dir}: ${err instanceof Error ? err.message : String(err)}`)
    }
    tracked.untrack()
    if (problems.length > 0) throw new Error(`test bed: docker engine teardown: ${problems.join('; ')}`)
  }

  try {
    service = await spawnService({
      name: 'dockerd',
      command: DOCKERD_BIN,
      args: [
        `--config-file=${configFile}`,
        `--data-root=${path.join(dir, 'root')}`,
        `--exec-root=${path.join(dir, 'exec')}`,
        `-H`,
        `unix://${socketPath}`,
        `--pidfile=${path.join(dir, 'dockerd.pid')}`,
        '--iptables=false',
        '--ip6tables=false',
        '--ip-masq=false',
        '--bridge=none',
        '--storage-driver=vfs',
        // If a system containerd happens to run, dockerd uses it: keep our containers apart.
        `--containerd-namespace=bed-${id}`,
        `--containerd-plugins-namespace=bed-${id}-plugins`,
      ],
      logFile: info.logFile,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' },
    })
    info.pid = service.pid
    tracked.entry.pids.push(service.pid)
    await waitUntil(`dockerd to answer on ${socketPath}`, () => dockerPing(socketPath), {
      timeoutMs: 60_000,
      intervalMs: 100,
      service,
    })
    await dockerCli(info, ['version', '--format', '{{.Server.Version}}'])
    await buildImage(info)
    return { info, stop }
  } catch (err) {
    const log = await logTail(info.logFile)
    await stop().catch(() => undefined)
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- dockerd log ---\n${log}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Containers

export interface RunContainerOptions {
  name: string
  /** Command and arguments (host paths; the container sees the host's /usr, /bin, …). */
  cmd: string[]
  /** Container labels, e.g. composeLabels('network-probe', 'postgres'). */
  labels?: Record<string, string>
  /** Docker restart policy: 'no' | 'always' | 'unless-stopped' | 'on-failure[:N]'. */
  restart?: string
  env?: Record<string, string>
  /** Extra -v specs, 'host:container[:ro]'. */
  binds?: string[]
  /** --user, e.g. '101:104'. */
  user?: string
  /** Run docker-init as PID 1 so SIGTERM works and `docker stop` is quick (default true). */
  init?: boolean
  stopSignal?: string
  /** Seconds docker stop waits before SIGKILL (default 10). */
  stopTimeout?: number
  workdir?: string
  /** --privileged */
  privileged?: boolean
}

export interface RunningContainer {
  id: string
  name: string
  /** docker rm -f -v, and removal of the host dirs made for it. */
  remove(): Promise<void>
}

/** Labels docker compose puts on a service's containers. */
export function composeLabels(project: string, service: string, containerNumber = 1): Record<string, string> {
  return {
    'com.docker.compose.project': project,
    'com.docker.compose.service': service,
    'com.docker.compose.container-number': String(containerNumber),
    'com.docker.compose.oneoff': 'False',
  }
}

function runArgs(engine: Pick<DockerEngineInfo, 'image'>, opts: RunContainerOptions): string[] {
  const args = ['run', '-d', '--name', opts.name, '--network', 'host']
  for (const m of HOST_RO_MOUNTS) args.push('-v', `${m}:${m}:ro`)
  for (const b of opts.binds ?? []) args.push('-v', b)
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`)
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-e', `${k}=${v}`)
  if (opts.restart) args.push('--restart', opts.restart)
  if (opts.user) args.push('--user', opts.user)
  if (opts.stopSignal) args.push('--stop-signal', opts.stopSignal)
  if (opts.stopTimeout !== undefined) args.push('--stop-timeout', String(opts.stopTimeout))
  if (opts.workdir) args.push('--workdir', opts.workdir)
  if (opts.privileged) args.push('--privileged')
  // Not `--init`: docker bind-mounts docker-init at /sbin/docker-init, which cannot appear inside
  // our read-only /sbin mount. The host's docker-init (tini) runs from the /usr mount instead.
  const cmd = (opts.init ?? true) ? [DOCKER_INIT, '--', ...opts.cmd] : opts.cmd
  args.push(engine.image, ...cmd)
  return args
}

async function removeContainer(engine: Pick<DockerEngineInfo, 'host'>, name: string): Promise<void> {
  await dockerCli(engine, ['rm', '-f', '-v', name], { reject: false, timeoutMs: 60_000 })
}

/** Run any host binary as a detached container. Resolves once `docker run -d` returned. */
export async function runCommandContainer(engine: Pick<DockerEngineInfo, 'host' | 'image'>, opts: RunContainerOptions): Promise<RunningContainer> {
  const r = await dockerCli(engine, runArgs(engine, opts))
  const id = r.stdout.trim()
  return { id, name: opts.name, remove: () => removeContainer(engine, opts.name) }
}

export interface SleeperOptions extends Omit<RunContainerOptions, 'cmd'> {
  /** Lines printed to stdout before sleeping (default: none). */
  logLines?: string[]
  /** Lines printed to stderr before sleeping (default: none). */
  errorLines?: string[]
}

/** A container that prints some lines (visible in `docker logs`) and then sleeps "forever". */
export async function runSleeperContainer(engine: Pick<DockerEngineInfo, 'host' | 'image'>, opts: SleeperOptions): Promise<RunningContainer> {
  const { logLines = [], errorLines = [], ...rest } = opts
  // Lines go through positional parameters, never interpolated into the script.
  const script =
    'i=1; n=$1; shift; while [ $i -le $n ]; do printf "%s\\n" "$1"; shift; i=$((i+1)); done; ' +
    'for l in "$@"; do printf "%s\\n" "$l" >&2; done; exec sleep 100000000'
  return runCommandContainer(engine, {
    ...rest,
    cmd: ['/bin/sh', '-c', script, 'sleeper', String(logLines.length), ...logLines, ...errorLines],
  })
}

export interface PostgresContainerOptions {
  name: string
  /** TCP port on 127.0.0.1 (free port by default). */
  port?: number
  /** Password of the `postgres` superuser (random by default). */
  password?: string
  /** Database to create (default `network_probe`). */
  database?: string
  labels?: Record<string, string>
  restart?: string
  extraConf?: Record<string, string | number | boolean>
  /** Wait until SELECT 1 works and create the database (default true). */
  wait?: boolean
}

export interface PostgresContainer extends RunningContainer {
  /** Connection info; `pid` is the host pid of the postmaster; dataDir/socketDir are host paths. */
  info: PostgresInfo
}

/**
 * PostgreSQL 15 in a container: the host postgres user's uid:gid, a data dir initialised on the
 * host and mounted at /data, its socket dir mounted at /sock, listening on 127.0.0.1:port.
 */
export async function runPostgresContainer(
  engine: Pick<DockerEngineInfo, 'host' | 'image' | 'scratchDir'>,
  opts: PostgresContainerOptions,
): Promise<PostgresContainer> {
  const user = osUser('postgres')
  const hostDir = await mkdtemp(path.join(engine.scratchDir, 'pg-'))
  const removeAll = async (): Promise<void> => {
    await removeContainer(engine, opts.name)
    await removeDir(hostDir)
  }
  try {
    await chmod(hostDir, 0o700)
    await chown(hostDir, user.uid, user.gid)
    const dataDir = path.join(hostDir, 'data')
    const socketDir = path.join(hostDir, 'sock')
    await mkdir(socketDir, { mode: 0o700 })
    await chown(socketDir, user.uid, user.gid)
    const port = opts.port ?? (await freePort())
    const password = opts.password ?? randomPassword()
    const database = opts.database ?? 'network_probe'
    await initDataDir({ dataDir, password, port, socketDir: '/sock', user, extraConf: opts.extraConf })
    const container = await runCommandContainer(engine, {
      name: opts.name,
      cmd: [path.join(PG_BIN_DIR, 'postgres'), '-D', '/data'],
      labels: opts.labels,
      restart: opts.restart,
      user: `${user.uid}:${user.gid}`,
      binds: [`${dataDir}:/data`, `${socketDir}:/sock`],
      env: { LANG: 'C.UTF-8' },
      init: false,
      // Like the official image: SIGINT = fast shutdown (SIGTERM would wait for clients).
      stopSignal: 'SIGINT',
    })
    const info: PostgresInfo = clusterInfo({ port, password, database, dataDir, socketDir, pid: -1, logFile: '(docker logs)' })
    if (opts.wait ?? true) {
      const check = async (): Promise<void> => {
        const s = await dockerCli(engine, ['inspect', '-f', '{{.State.Status}}', opts.name], { reject: false })
        const status = s.stdout.trim()
        if (status !== 'running' && status !== 'restarting' && status !== 'created') {
          const logs = await dockerCli(engine, ['logs', '--tail', '50', opts.name], { reject: false })
          throw new GiveUp(`postgres container ${opts.name} is ${status || 'gone'}:\n${logs.stdout}\n${logs.stderr}`)
        }
      }
      await waitForPostgres(pgClientConfig(info, 'postgres'), {
        timeoutMs: 60_000,
        what: `postgres container ${opts.name} to answer SELECT 1 on 127.0.0.1:${port}`,
        check,
      })
      if (database !== 'postgres') await createDatabase(pgClientConfig(info, 'postgres'), database)
    }
    const pidOut = await dockerCli(engine, ['inspect', '-f', '{{.State.Pid}}', opts.name], { reject: false })
    info.pid = Number(pidOut.stdout.trim()) || -1
    return { id: container.id, name: opts.name, info, remove: removeAll }
  } catch (err) {
    await removeAll().catch(() => undefined)
    throw err
  }
}

/** A name unlikely to collide with other tests' containers. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`
}
