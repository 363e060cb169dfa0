import { access } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import type { Config } from '../config/load.js'
import { StepFailure } from '../errors.js'
import { archivePaths } from '../systems/pg-tools.js'
import { producedStream, storeBackup, storeTarget, type StoredCopies } from './commit.js'
import { backupId, manifestStamp, prepareBackupDir, type BackupManifest } from './store.js'

/** A tar.gz of the configured paths (compose files, /etc/network-probe, ...), with a manifest. */
export async function archiveConfig(
  config: Config,
  options: { reason: BackupManifest['reason']; toolVersion: string; signal: AbortSignal },
): Promise<StoredCopies> {
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
  if (present.length === 0)
    throw new StepFailure(
      `none of backup.configPaths exists: ${missing.join(', ')}`,
      'set backup.configPaths to the files and directories that hold the configuration',
    )
  const started = new Date()
  const id = backupId('config', started)
  const produce = () =>
    producedStream(async (sink, signal) => {
      const result = await archivePaths(present, sink, signal)
      if (result.exitCode !== 0) throw new StepFailure(`tar failed (exit ${result.exitCode}): ${result.stderr.split('\n').at(-1)}`, 'nothing was kept')
    }, options.signal)
  // A configuration archive belongs to the host, not to a cluster: the repositories' files are only read.
  return storeBackup(storeTarget(config, { signal: options.signal }), { dataName: `${id}.tar.gz`, produce }, () => ({
    id,
    kind: 'config',
    reason: options.reason,
    format: 'tar.gz',
    paths: present,
    missingPaths: missing,
    ...manifestStamp(config.host, options.toolVersion, started),
  }))
}
