import { createHash, randomBytes } from 'node:crypto'
import { chownSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa } from 'execa'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import {
  PG_BIN_DIR,
  bed,
  freePort,
  pgClientConfig,
  pgQuery,
  runSleeperContainer,
  startHangingServer,
  startPostgres,
  startRefusedPort,
  uniqueName,
  type HangingServer,
  type PostgresServer,
} from '../bed/index.js'
import { osUser } from '../bed/process.js'
import { startS3, type S3Server } from '../bed/s3.js'
import { parseReport, runCli } from '../helpers/cli.js'
import { walArchiveFiles } from '../helpers/postgres-service.js'
import { filesUnder, waitFor } from '../helpers/polling.js'

/**
 * `wal push` as a real PostgreSQL 15's archive_command, into a local directory and s3rver, with
 * age encryption; `wal fetch` as the restore_command of a recovery from a base backup taken
 * without WAL (pg_basebackup -X none), so that every segment it replays comes through it. Both
 * run as PostgreSQL's OS user, as they do on a host: the configuration, the credentials file and
 * the identity file are made readable to it, as backup wal-setup asks.
 */

const BIN = resolve(import.meta.dirname, '../../bin/run.js')
const COMMAND = `${process.execPath} ${BIN} wal`
const SEGMENT = /^[0-9A-F]{24}$/

interface Archiver {
  archived: number
  failed: number
  lastArchived: string | null
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

describe('wal push and wal fetch with a real PostgreSQL, a local repository and s3rver', () => {
  const postgresUser = osUser('postgres')
  let root: string
  let local: string
  let s3: S3Server
  let hung: HangingServer
  let server: PostgresServer
  let recipient: string
  let identity: string
  let config: string
  const host = `wal-${randomBytes(4).toString('hex')}`

  function s3Repository(endpoint: string, extra: Record<string, unknown> = {}) {
    return {
      name: 'offsite',
      type: 's3',
      bucket: s3.bucket,
      prefix: 'probe-01/',
      endpoint,
      forcePathStyle: true,
      credentialsFile: join(root, 'credentials'),
      timeoutSeconds: 2,
      ...extra,
    }
  }

  /** A configuration in the test's directory, readable by PostgreSQL's user. */
  function writeWalConfig(name: string, backup: Record<string, unknown>, more: Record<string, unknown> = {}): string {
    const path = join(root, `${name}.yaml`)
    const settings = {
      ...more,
      host,
      log: { file: join(root, 'maintenance.log') },
      // Its own: the machine's default lock and metrics directories belong to other runs.
      lock: { dir: join(root, 'lock') },
      metrics: { textfileDir: join(root, 'metrics') },
      alertmanager: { url: bed().alertmanager.url },
      backup: {
        dir: local,
        repositories: [{ name: 'local', type: 'local', path: local }, s3Repository(s3.endpoint)],
        encryption: { recipients: [recipient], identityFile: identity },
        wal: { pushTimeoutSeconds: 5 },
        ...backup,
      },
    }
    writeFileSync(path, stringify(settings), { mode: 0o644 })
    return path
  }

  async function query<R extends pg.QueryResultRow>(text: string, port = server.info.port): Promise<R[]> {
    return (await pgQuery<R>({ ...pgClientConfig(server.info, 'network_probe'), port }, text)).rows
  }

  async function archiver(): Promise<Archiver> {
    const [row] = await query<{ archived: string; failed: string; last: string | null }>(
      'select archived_count::text as archived, failed_count::text as failed, last_archived_wal as last from pg_stat_archiver',
    )
    return { archived: Number(row!.archived), failed: Number(row!.failed), lastArchived: row!.last }
  }

  /** Writes some WAL and switches to a new segment: the name of the one that is now ready to archive. */
  async function switchSegment(): Promise<string> {
    await query('create table if not exists filler (n int, pad text)')
    await query(`insert into filler select g, repeat('x', 200) from generate_series(1, 2000) g`)
    const [row] = await query<{ segment: string }>('select pg_walfile_name(pg_switch_wal()) as segment')
    return row!.segment
  }

  async function waitArchived(segment: string): Promise<Archiver> {
    return waitFor(`${segment} to be archived`, async () => {
      const now = await archiver()
      return now.lastArchived !== null && now.lastArchived >= segment ? now : undefined
    })
  }

  /** The keys of a WAL file in each repository. */
  function keysOf(name: string): { local: string[]; s3: string[] } {
    const localKeys = [...filesUnder(join(local, 'wal')).keys()].filter((key) => key.split('/').at(-1)!.startsWith(`${name}-`))
    const s3Keys = [...filesUnder(join(s3.dir, s3.bucket)).keys()]
      .filter((path) => path.endsWith('._S3rver_object'))
      .map((path) => path.slice(0, -'._S3rver_object'.length))
      .filter((key) => key.split('/').at(-1)!.startsWith(`${name}-`))
    return { local: localKeys, s3: s3Keys }
  }

  /** What the plain age and zstd programs make of a stored object: the file PostgreSQL gave. */
  async function decryptByHand(path: string): Promise<Buffer> {
    const binary = { encoding: 'buffer', stripFinalNewline: false } as const
    const decrypted = await execa('age', ['-d', '-i', identity, path], binary)
    const plain = await execa('zstd', ['-d', '-c'], { input: decrypted.stdout, ...binary })
    return Buffer.from(plain.stdout)
  }

  beforeAll(async () => {
    ;({ root, local, identity, recipient } = await walArchiveFiles('/tmp/po-wal-test-'))
    s3 = await startS3()
    hung = await startHangingServer()
    config = writeWalConfig('probe-ops', {})
    server = await startPostgres({
      extraConf: { wal_level: 'replica', archive_mode: 'on', archive_command: `'${COMMAND} push %p --config ${config}'` },
    })
  }, 120_000)

  afterAll(async () => {
    await server?.stop()
    await hung?.close()
    await s3?.stop()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  /** Archived segments, in order: the first few tests add to it. */
  const archived: string[] = []

  it('archives each segment PostgreSQL finishes into both repositories, encrypted, with no failure', async () => {
    for (let round = 0; round < 3; round++) {
      const segment = await switchSegment()
      expect(segment).toMatch(SEGMENT)
      const state = await waitArchived(segment)
      expect(state.failed).toBe(0)
      archived.push(segment)
    }
    for (const segment of archived) {
      const keys = keysOf(segment)
      expect(keys.local, segment).toEqual([expect.stringMatching(new RegExp(`^15-1/${segment.slice(0, 16)}/${segment}-[0-9a-f]{64}\\.zst\\.age$`))])
      expect(keys.s3, segment).toEqual([`probe-01/wal/${keys.local[0]}`])
      // The plain age and zstd programs read what probe-ops stored, without probe-ops.
      const plain = await decryptByHand(join(local, 'wal', keys.local[0]!))
      expect(sha256(plain)).toBe(/-([0-9a-f]{64})\./.exec(keys.local[0]!)![1])
      expect(sha256(await decryptByHand(s3.objectPath(keys.s3[0]!)))).toBe(sha256(plain))
    }
    const repositoryFile = JSON.parse(readFileSync(join(local, 'probe-ops-repository.json'), 'utf8')) as { clusters: { systemIdentifier: string }[] }
    const [control] = await query<{ id: string }>('select system_identifier::text as id from pg_control_system()')
    expect(repositoryFile.clusters[0]!.systemIdentifier).toBe(control!.id)
  })

  it('wal fetch restores a segment byte for byte; the same segment pushed again is a no-op; another file under its name is refused and alerted', async () => {
    const segment = archived[0]!
    const dir = mkdtempSync(join(root, 'fetched-'))
    const copy = join(dir, segment)
    const fetched = await runCli(['wal', 'fetch', segment, copy, '--config', config])
    expect(fetched.exitCode, fetched.stderr).toBe(0)
    expect(fetched.stderr).toBe('')
    const plain = readFileSync(copy)
    expect(sha256(plain)).toBe(sha256(await decryptByHand(join(local, 'wal', keysOf(segment).local[0]!))))

    const before = { local: filesUnder(join(local, 'wal')), s3: filesUnder(join(s3.dir, s3.bucket)) }
    for (let attempt = 0; attempt < 2; attempt++) {
      const again = await runCli(['wal', 'push', copy, '--config', config])
      expect(again.exitCode, again.stderr).toBe(0)
      expect(again.stderr).toBe('')
    }
    expect(filesUnder(join(local, 'wal'))).toEqual(before.local)
    expect(filesUnder(join(s3.dir, s3.bucket))).toEqual(before.s3)

    // The same header, one byte changed further in: another file under the name.
    const other = Buffer.from(plain)
    other[100_000] = other[100_000]! ^ 0xff
    writeFileSync(copy, other)
    const refused = await runCli(['wal', 'push', copy, '--config', config])
    expect(refused.exitCode).toBe(1)
    const lines = refused.stderr.trim().split('\n')
    expect(lines).toContain(
      `probe-ops: wal push: refused: ${segment} is already archived in local with other content (sha256 ${sha256(plain).slice(0, 12)}…, this one ${sha256(other).slice(0, 12)}…): two clusters write to one repository, or a restored cluster reuses its timeline; archiving stops here until a person decides (see docs/operations.md)`,
    )
    expect(lines.some((line) => line.startsWith(`probe-ops: wal push: refused: ${segment} is already archived in offsite with other content`))).toBe(true)
    expect(filesUnder(join(local, 'wal'))).toEqual(before.local)
    expect(filesUnder(join(s3.dir, s3.bucket))).toEqual(before.s3)
    // The maintenance log has it too (this run was root's: PostgreSQL's user may not write there).
    const logged = readFileSync(join(root, 'maintenance.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>)
    expect(logged.at(-1)).toMatchObject({
      level: 'error',
      module: 'probe-ops.wal',
      host,
      message: expect.stringContaining(`wal push: refused: ${segment} is already archived in local`),
    })
    const filter = encodeURIComponent(`instance="${host}"`)
    const alerts = (await (await fetch(`${bed().alertmanager.url}/api/v2/alerts?active=true&filter=${filter}`)).json()) as { labels: Record<string, string> }[]
    expect(alerts.map((alert) => alert.labels)).toContainEqual(
      expect.objectContaining({ alertname: 'ProbeOpsWalConflict', severity: 'critical', segment, repository: 'local' }),
    )

    // Not a WAL file, or not the segment its name says: refused before any repository is asked.
    writeFileSync(join(dir, archived[1]!), plain)
    const misnamed = await runCli(['wal', 'push', join(dir, archived[1]!), '--config', config])
    expect(misnamed.exitCode).toBe(1)
    expect(misnamed.stderr).toMatch(
      new RegExp(`is not WAL segment ${archived[1]}: its header says it starts at segment \\d+, and its name says segment \\d+; refused`),
    )
    // A segment of another cluster (its system identifier in the header differs): refused, nothing written.
    const foreign = Buffer.from(plain)
    foreign.writeBigUInt64LE(foreign.readBigUInt64LE(24) + 1n, 24)
    writeFileSync(copy, foreign)
    const otherCluster = await runCli(['wal', 'push', copy, '--config', config])
    expect(otherCluster.exitCode).toBe(1)
    expect(otherCluster.stderr).toMatch(
      new RegExp(
        `^probe-ops: wal push: refused: ${segment}: the segment is of cluster \\d+, and repository local belongs to cluster \\d+ \\(archive 15-1\\)`,
        'm',
      ),
    )
    expect(filesUnder(join(local, 'wal'))).toEqual(before.local)
    // Root pushing PostgreSQL's own segment by hand would leave root's directories in the local wal/: refused.
    writeFileSync(copy, plain)
    chownSync(copy, postgresUser.uid, postgresUser.gid)
    const asRoot = await runCli(['wal', 'push', copy, '--config', config])
    expect(asRoot.exitCode).toBe(1)
    expect(asRoot.stderr).toMatch(new RegExp(`belongs to uid ${postgresUser.uid}, and this is root: .*run it as that user`))
    expect(filesUnder(join(local, 'wal'))).toEqual(before.local)
    const notWal = await runCli(['wal', 'push', config, '--config', config])
    expect(notWal.exitCode).toBe(1)
    expect(notWal.stderr).toBe('probe-ops: wal push: probe-ops.yaml is not a WAL file name (a segment, .partial, .backup or .history)')
  })

  it('an S3 repository that hangs fails the push within its bound; PostgreSQL keeps the segment and archives it once S3 answers again', async () => {
    const hungConfig = writeWalConfig('hung', {
      repositories: [{ name: 'local', type: 'local', path: local }, s3Repository(hung.url, { timeoutSeconds: 1 })],
      wal: { pushTimeoutSeconds: 3 },
    })
    // Directly: a segment both repositories hold is not proved there when one does not answer.
    const dir = mkdtempSync(join(root, 'hung-'))
    const copy = join(dir, archived[1]!)
    expect((await runCli(['wal', 'fetch', archived[1]!, copy, '--config', config])).exitCode).toBe(0)
    const direct = await runCli(['wal', 'push', copy, '--config', hungConfig])
    expect(direct.exitCode).toBe(1)
    expect(direct.stderr).toMatch(new RegExp(`^probe-ops: wal push: ${archived[1]} not stored in offsite \\(.*\\); PostgreSQL will retry`, 'm'))

    // Through PostgreSQL: it counts the failures and keeps the segment ready.
    await query(`alter system set archive_command = '${COMMAND} push %p --config ${hungConfig}'`)
    await query('select pg_reload_conf()')
    const before = await archiver()
    const stuck = await switchSegment()
    await waitFor('a failed archive_command', async () => ((await archiver()).failed > before.failed ? true : undefined))
    const ready = join(server.info.dataDir, 'pg_wal', 'archive_status', `${stuck}.ready`)
    expect(statSync(ready).isFile()).toBe(true)
    expect(keysOf(stuck).s3).toEqual([])

    await query(`alter system set archive_command = '${COMMAND} push %p --config ${config}'`)
    await query('select pg_reload_conf()')
    // A new segment wakes the archiver, which takes the stuck one first.
    const next = await switchSegment()
    await waitArchived(next)
    for (const segment of [stuck, next]) {
      expect(keysOf(segment).local, segment).toHaveLength(1)
      expect(keysOf(segment).s3, segment).toHaveLength(1)
    }
    archived.push(stuck, next)
  }, 180_000)

  it('a recovery from a base backup taken without WAL replays the archive through wal fetch, and ends where the archive does', async () => {
    const recovered = mkdtempSync('/tmp/po-wal-recovered-')
    chownSync(recovered, postgresUser.uid, postgresUser.gid)
    const dataDir = join(recovered, 'data')
    const asPostgres = (command: string, args: string[]) =>
      execa('runuser', ['-u', 'postgres', '--', join(PG_BIN_DIR, command), ...args], { env: { PGPASSWORD: server.info.password } })
    try {
      await query('create table events (n int)')
      await query('insert into events select generate_series(1, 100)')
      await asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(server.info.port), '-U', 'postgres', '-D', dataDir, '-X', 'none', '-c', 'fast'])
      await query('insert into events select generate_series(101, 250)')
      await waitArchived(await switchSegment())
      const port = await freePort()
      const settings = {
        restore_command: `${COMMAND} fetch %f %p --config ${config}`,
        archive_mode: 'off',
        port: String(port),
        listen_addresses: '127.0.0.1',
        unix_socket_directories: dataDir,
      }
      const lines = Object.entries(settings).map(([name, value]) => `${name} = '${value}'`)
      writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${readFileSync(join(dataDir, 'postgresql.auto.conf'), 'utf8')}\n${lines.join('\n')}\n`)
      writeFileSync(join(dataDir, 'recovery.signal'), '')
      chownSync(join(dataDir, 'recovery.signal'), postgresUser.uid, postgresUser.gid)
      const log = join(recovered, 'recovery.log')
      const started = await asPostgres('pg_ctl', ['-D', dataDir, '-l', log, '-w', '-t', '120', 'start']).catch((error: Error) => error)
      const logText = readFileSync(log, 'utf8')
      expect(started instanceof Error ? started.message : '', logText).toBe('')
      const promoted = await waitFor('the end of recovery', async () => {
        const [row] = await query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering', port).catch(() => [{ recovering: true }])
        return row!.recovering ? undefined : true
      })
      expect(promoted).toBe(true)
      expect((await query<{ n: string }>('select count(*)::text as n from events', port))[0]!.n).toBe('250')
      const replayed = readFileSync(log, 'utf8')
      expect(replayed).toMatch(/restored log file "[0-9A-F]{24}" from archive/)
      expect(replayed).not.toMatch(/probe-ops: wal fetch/)
      await asPostgres('pg_ctl', ['-D', dataDir, 'stop', '-m', 'immediate'])
    } finally {
      await execa('runuser', ['-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), '-D', dataDir, 'stop', '-m', 'immediate']).catch(() => undefined)
      rmSync(recovered, { recursive: true, force: true })
    }
  }, 240_000)

  it("a timeline's history file goes to history/ in both repositories, and comes back; a missing one is not there (1)", async () => {
    // After the recovery above: one that found 00000002.history would follow it. As PostgreSQL's user writes it, and runs wal push.
    const dir = mkdtempSync(join(root, 'history-'))
    chownSync(dir, postgresUser.uid, postgresUser.gid)
    const history = join(dir, '00000002.history')
    writeFileSync(history, '1\t0/3000158\tno recovery target specified\n')
    const pushed = await execa('runuser', ['-u', 'postgres', '--', process.execPath, BIN, 'wal', 'push', history, '--config', config], { reject: false })
    expect(pushed.exitCode, pushed.stderr).toBe(0)
    const keys = keysOf('00000002.history')
    expect(keys.local).toEqual([expect.stringMatching(/^15-1\/history\/00000002\.history-[0-9a-f]{64}\.zst\.age$/)])
    expect(keys.s3).toEqual([`probe-01/wal/${keys.local[0]}`])
    const back = join(dir, 'RECOVERYHISTORY')
    const fetched = await runCli(['wal', 'fetch', '00000002.history', back, '--config', config])
    expect(fetched.exitCode, fetched.stderr).toBe(0)
    expect(readFileSync(back, 'utf8')).toBe('1\t0/3000158\tno recovery target specified\n')
    expect((await runCli(['wal', 'fetch', '00000003.history', back, '--config', config])).exitCode).toBe(1)
  })

  it('wal fetch: 1 when no repository has the file, 128 when it cannot tell or every copy is damaged, 0 from the next repository when one copy is damaged', async () => {
    const dir = mkdtempSync(join(root, 'fetch-'))
    const target = join(dir, 'RECOVERYXLOG')
    const fetchWith = (name: string, configPath: string, ...more: string[]) => runCli(['wal', 'fetch', name, target, '--config', configPath, ...more])

    for (const name of ['0000000100000000000000FE', '00000009.history']) {
      const absent = await fetchWith(name, config)
      expect(absent.exitCode, absent.stderr).toBe(1)
      expect(absent.stderr).toBe('')
    }

    // A plain copy the old `cp` archive_command left in the local wal/ is still served.
    writeFileSync(join(local, 'wal', '0000000100000000000000F0'), 'a segment archived by cp')
    const legacy = await fetchWith('0000000100000000000000F0', config)
    expect(legacy.exitCode, legacy.stderr).toBe(0)
    expect(readFileSync(target, 'utf8')).toBe('a segment archived by cp')

    const s3Only = writeWalConfig('s3-only', { repositories: [s3Repository(s3.endpoint)] })
    const [damaged, spare] = archived as [string, string]
    // One byte of the S3 copy flipped in s3rver's own file (its HEAD still reports the old ETag).
    const object = s3.objectPath(keysOf(damaged).s3[0]!)
    const bytes = readFileSync(object)
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0xff
    writeFileSync(object, bytes)
    const corrupt = await fetchWith(damaged, s3Only)
    expect(corrupt.exitCode).toBe(128)
    expect(corrupt.stderr).toMatch(new RegExp(`^probe-ops: wal fetch: cannot tell whether ${damaged} is archived: offsite: .*cannot be decrypted`))
    // The local copy is good, and comes first.
    expect((await fetchWith(damaged, config)).exitCode).toBe(0)
    // A damaged local copy, and a good one in S3: the next repository gives it.
    const localCopy = join(local, 'wal', keysOf(spare).local[0]!)
    const localBytes = readFileSync(localCopy)
    localBytes[localBytes.length - 40] = localBytes[localBytes.length - 40]! ^ 0xff
    writeFileSync(localCopy, localBytes)
    const fromNext = await fetchWith(spare, config)
    expect(fromNext.exitCode, fromNext.stderr).toBe(0)
    expect(sha256(readFileSync(target))).toBe(/-([0-9a-f]{64})\./.exec(localCopy)![1])

    const otherIdentity = join(root, 'other-identity')
    await execa('age-keygen', ['-o', otherIdentity])
    const wrongKey = writeWalConfig('wrong-identity', {
      repositories: [s3Repository(s3.endpoint)],
      encryption: { recipients: [recipient], identityFile: otherIdentity },
    })
    const wrong = await fetchWith(archived[2]!, wrongKey)
    expect(wrong.exitCode).toBe(128)
    expect(wrong.stderr).toContain(`no secret key in ${otherIdentity} matches the recipients`)

    const refusedPort = await startRefusedPort()
    for (const endpoint of [`http://127.0.0.1:${refusedPort}`, hung.url]) {
      const unreachable = writeWalConfig('unreachable', {
        repositories: [s3Repository(endpoint, { timeoutSeconds: 1 })],
        wal: { pushTimeoutSeconds: 3 },
      })
      const result = await fetchWith(archived[2]!, unreachable)
      expect(result.exitCode, endpoint).toBe(128)
      expect(result.stderr).toMatch(new RegExp(`^probe-ops: wal fetch: cannot tell whether ${archived[2]} is archived`))
    }

    // An unmounted disk, a prefix never prepared: nothing there can prove a segment absent, so recovery must stop, not end.
    for (const repository of [{ name: 'local', type: 'local', path: join(root, 'not-mounted') }, s3Repository(s3.endpoint, { prefix: 'never-prepared/' })]) {
      const unprepared = await fetchWith('0000000100000000000000FE', writeWalConfig('unprepared', { repositories: [repository] }))
      expect(unprepared.exitCode, unprepared.stderr).toBe(128)
      expect(unprepared.stderr).toMatch(/holds no probe-ops-repository\.json and no WAL: not an archive probe-ops prepared/)
    }

    const usage = await runCli(['wal', 'fetch', archived[2]!, '--config', config])
    expect(usage.exitCode).toBe(128)
    expect(usage.stderr).toMatch(/^probe-ops: wal fetch: expected 2 arguments/)
    const badConfig = join(root, 'bad.yaml')
    writeFileSync(badConfig, 'backup:\n  wal:\n    compress: brotli\n')
    const bad = await fetchWith(archived[2]!, badConfig)
    expect(bad.exitCode).toBe(128)
    expect(bad.stderr).toMatch(/^probe-ops: wal fetch: .*bad\.yaml:3/)
  }, 120_000)

  it("run by a Node too old (Debian's own /usr/bin/node), wal fetch stops recovery (128) and wal push fails as PostgreSQL counts it (1)", async () => {
    const old = '/usr/bin/node'
    const version = (await execa(old, ['--version'])).stdout.trim()
    expect(Number(/^v(\d+)/.exec(version)![1]), `${old} is ${version}: this test needs a Node older than 22`).toBeLessThan(22)
    const fetched = await execa(old, [BIN, 'wal', 'fetch', '000000010000000000000001', join(root, 'never'), '--config', config], { reject: false })
    expect(fetched.exitCode).toBe(128)
    expect(fetched.stderr).toMatch(/^probe-ops: Node\.js v\d+\.\d+\.\d+ is too old/)
    const pushed = await execa(old, [BIN, 'wal', 'push', join(root, '000000010000000000000001'), '--config', config], { reject: false })
    expect(pushed.exitCode).toBe(1)
  })

  /** probe-ops' view of the test's cluster: its connection, and how its service runs. */
  function platform(postgresService: Record<string, unknown>): Record<string, unknown> {
    return {
      postgres: { host: '127.0.0.1', port: server.info.port, user: 'postgres', database: 'network_probe' },
      docker: { host: bed().docker.host },
      services: { management: { enabled: false }, web: { enabled: false }, redis: { enabled: false }, postgres: postgresService },
    }
  }

  async function setting(name: string): Promise<string> {
    return (await query<{ setting: string }>(`select setting from pg_settings where name = '${name}'`))[0]!.setting
  }

  it('backup wal-setup --apply sets wal push and wal fetch, reads them back, and sees a segment reach both repositories', async () => {
    const dataDir = server.info.dataDir
    const setup = writeWalConfig('setup', {}, platform({ runtime: 'process', pidFile: join(dataDir, 'postmaster.pid'), dataDir }))
    const env = { PGPASSWORD: server.info.password }
    const applied = await runCli(['backup', 'wal-setup', '--apply', '--config', setup, '--json'], env)
    const report = parseReport(applied)
    expect(applied.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ['settings', 'ok'],
      ['repositories', 'ok'],
      ['check', 'ok'],
    ])
    const [settings, repositories, check] = report.steps
    expect(settings!.summary).toMatch(/^applied \d settings \(reloaded, read back\)$/)
    expect(await setting('archive_command')).toBe(`${COMMAND} push %p --config ${setup}`)
    expect(await setting('restore_command')).toBe(`${COMMAND} fetch %f %p --config ${setup}`)
    expect(await setting('archive_timeout')).toBe('300')
    expect(repositories!.data).toEqual({
      repositories: [
        { name: 'local', state: 'prepared', archiveId: '15-1' },
        { name: 'offsite', state: 'prepared', archiveId: '15-1' },
      ],
    })
    const segment = (check!.data as { segment: string }).segment
    expect(check!.summary).toMatch(new RegExp(`^segment ${segment} archived in .* in every repository$`))
    expect(keysOf(segment).local).toHaveLength(1)
    expect(keysOf(segment).s3).toHaveLength(1)

    const again = await runCli(['backup', 'wal-setup', '--config', setup, '--json'], env)
    expect(again.exitCode, again.stdout).toBe(0)
    expect(parseReport(again).steps[0]!.summary).toBe('archiving through probe-ops wal push')
  }, 120_000)

  it('backup wal-setup --apply refuses a repository of another cluster, and --new-archive starts a generation of its own there', async () => {
    const taken = mkdtempSync(join(root, 'taken-over-'))
    const old = {
      format: 1,
      clusters: [{ archiveId: '15-1', systemIdentifier: '1', serverVersion: '15.0', since: '2026-01-01T00:00:00.000Z' }],
      createdBy: 'old-host',
    }
    writeFileSync(join(taken, 'probe-ops-repository.json'), JSON.stringify(old))
    const dataDir = server.info.dataDir
    const setup = writeWalConfig(
      'taken-over',
      { dir: taken, repositories: [{ name: 'local', type: 'local', path: taken }] },
      platform({ runtime: 'process', pidFile: join(dataDir, 'postmaster.pid'), dataDir }),
    )
    const env = { PGPASSWORD: server.info.password }
    const refused = await runCli(['backup', 'wal-setup', '--apply', '--only', 'repositories', '--config', setup, '--json'], env)
    expect(refused.exitCode).toBe(1)
    expect(parseReport(refused).steps.find((step) => step.id === 'repositories')).toMatchObject({
      status: 'failed',
      summary: expect.stringMatching(/belongs to cluster 1 \(archive 15-1\)/) as unknown,
    })

    const renewed = await runCli(['backup', 'wal-setup', '--apply', '--new-archive', '--only', 'repositories', '--config', setup, '--json'], env)
    expect(renewed.exitCode, renewed.stdout).toBe(0)
    expect(parseReport(renewed).steps.find((step) => step.id === 'repositories')!.data).toEqual({
      repositories: [{ name: 'local', state: 'new-archive', archiveId: '15-2' }],
    })
    const file = JSON.parse(readFileSync(join(taken, 'probe-ops-repository.json'), 'utf8')) as typeof old
    expect(file.clusters.map((cluster) => cluster.archiveId)).toEqual(['15-1', '15-2'])
    // Then this server's WAL and backups are accepted there, under the new archive.
    const again = await runCli(['backup', 'wal-setup', '--apply', '--only', 'repositories', '--config', setup, '--json'], env)
    expect(parseReport(again).steps.find((step) => step.id === 'repositories')!.data).toEqual({
      repositories: [{ name: 'local', state: 'prepared', archiveId: '15-2' }],
    })
    const usage = await runCli(['backup', 'wal-setup', '--new-archive', '--config', setup])
    expect(usage.exitCode).toBe(2)
  })

  it('backup wal-setup --apply refuses a PostgreSQL in a container that cannot run probe-ops, in one line, and changes nothing', async () => {
    const container = await runSleeperContainer(bed().docker, { name: uniqueName('postgres-wal') })
    try {
      const inDocker = writeWalConfig('docker', {}, platform({ runtime: 'docker', container: container.name }))
      const before = [await setting('archive_command'), await setting('restore_command')]
      const refused = await runCli(['backup', 'wal-setup', '--apply', '--config', inDocker, '--json'], { PGPASSWORD: server.info.password })
      expect(refused.exitCode).toBe(1)
      const settings = parseReport(refused).steps[0]!
      expect(settings.status).toBe('failed')
      expect(settings.error!.message).toMatch(
        new RegExp(`^PostgreSQL runs in container ${container.name}, which cannot run ${process.execPath} ${BIN} \\(.+\\): nothing was changed$`),
      )
      expect(settings.error!.hint).toMatch(/^mount Node 22 .* read-only into it/)
      expect([await setting('archive_command'), await setting('restore_command')]).toEqual(before)
    } finally {
      await container.remove()
    }
  }, 120_000)

  it("backup wal-setup --apply refuses a command PostgreSQL's OS user cannot run, in one line, and changes nothing", async () => {
    // A copy of probe-ops that root runs and PostgreSQL's user cannot reach: its directory is root's, 0700.
    const hidden = mkdtempSync(join(root, 'root-only-'))
    const repository = resolve(import.meta.dirname, '../..')
    cpSync(join(repository, 'bin'), join(hidden, 'bin'), { recursive: true })
    for (const name of ['dist', 'node_modules', 'package.json', 'oclif.manifest.json']) symlinkSync(join(repository, name), join(hidden, name))
    const copy = join(hidden, 'bin', 'run.js')
    expect((await execa(process.execPath, [copy, '--version'])).exitCode).toBe(0)
    const dataDir = server.info.dataDir
    const setup = writeWalConfig(
      'unreachable',
      { wal: { pushTimeoutSeconds: 5, command: [process.execPath, copy] } },
      platform({ runtime: 'process', pidFile: join(dataDir, 'postmaster.pid'), dataDir }),
    )
    const before = [await setting('archive_command'), await setting('restore_command')]
    const refused = await runCli(['backup', 'wal-setup', '--apply', '--config', setup, '--json'], { PGPASSWORD: server.info.password })
    expect(refused.exitCode).toBe(1)
    const settings = parseReport(refused).steps[0]!
    expect(settings.status).toBe('failed')
    expect(settings.error!.message).toBe(
      `PostgreSQL's OS user (uid ${postgresUser.uid}) cannot run ${process.execPath} ${copy} (it may not enter ${hidden}, on the way to ${copy}): nothing was changed`,
    )
    expect(settings.error!.hint).toMatch(/^install Node 22 and probe-ops where that user can read them/)
    expect([await setting('archive_command'), await setting('restore_command')]).toEqual(before)
  }, 120_000)
})
