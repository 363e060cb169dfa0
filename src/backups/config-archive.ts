import { createWriteStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { isAbsolute, join, relative } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { Checksum, backupId, commitBackup, prepareBackupDir, syncPath, temporaryPath, manifestStamp, type BackupManifest, type StoredBackup } from './store.js'

/** A tar.gz of the configured paths (compose files, /etc/network-probe, ...), with a manifest. */
export async function archiveConfig(config: Config, options: { reason: BackupManifest['reason']; toolVersion: string; signal?: AbortSignal }): Promise<StoredBackup> {
  const dir = config.backup.dir
  await prepareBackupDir(dir)
  const present: string[] = []
  const missing: string[] = []
  for (const path of config.backup.configPaths) {
    if (!isAbsolute(path)) throw new StepFailure(`backup.configPaths: "${path}" is not an absolute path`, 'list absolute paths')
    try {
      await access(path)
      present.push(path)
    } catch {
      missing.push(path)
    }
  }
  if (present.length === 0) throw new StepFailure(`none of backup.configPaths exists: ${missing.join(', ')}`, 'set backup.configPaths to the files and directories that hold the configuration')
  const started = new Date()
  const id = backupId('config', started)
  const dataName = `${id}.tar.gz`
  const temporary = temporaryPath(dir, dataName)
  const { execa } = await import('execa')
  const counter = new Checksum()
  const writing = pipeline(counter, createWriteStream(temporary, { mode: 0o600, flags: 'wx' }))
  // Paths relative to / so the archive restores anywhere with tar -C.
  const tar = execa('tar', ['-C', '/', '-czf', '-', '--', ...present.map((p) => relative('/', p) || '.')], { stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false }, reject: false, cancelSignal: options.signal })
  tar.stdout!.pipe(counter)
  const result = await tar
  await writing
  if (result.exitCode !== 0) {
    const { rm } = await import('node:fs/promises')
    await rm(temporary, { force: true })
    throw new StepFailure(`tar failed (exit ${result.exitCode}): ${String(result.stderr).trim().split('\n').at(-1)}`, 'nothing was kept')
  }
  await syncPath(temporary)
  const finished = new Date()
  const manifest: BackupManifest = {
    id,
    kind: 'config',
    reason: options.reason,
    format: 'tar.gz',
    data: dataName,
    sha256: counter.digest(),
    bytes: counter.bytes,
    paths: present,
    missingPaths: missing,
      ...manifestStamp(config.host, options.toolVersion, started, finished),
  }
  await commitBackup(dir, temporary, manifest)
  return { manifest, path: join(dir, dataName) }
}
