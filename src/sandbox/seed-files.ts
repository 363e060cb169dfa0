import { utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { makeDirectories } from '../lib/files.js'
import type { Layout } from './layout.js'

/** Aged files for maintain daily's cleanup to find: rotated and stale logs, old temp files, and some to keep. */
export async function seedOldFiles(paths: Layout): Promise<void> {
  const day = 86_400_000
  const files: Array<[string, number]> = [
    [join(paths.logDir, 'management.log.1'), 2 * day],
    [join(paths.logDir, 'management.log.2'), 9 * day],
    [join(paths.logDir, 'management.log.3'), 16 * day],
    [join(paths.logDir, 'agents', 'agent-001.log'), 45 * day],
    [join(paths.logDir, 'agents', 'agent-002.log'), 5 * day],
    [join(paths.tmp, 'network-probe-export-1.csv'), 3 * day],
    [join(paths.tmp, 'network-probe-upload-2.part'), 3_600_000],
    [join(paths.tmp, 'unrelated.txt'), 3 * day],
  ]
  for (const [file, age] of files) {
    await makeDirectories(dirname(file))
    await writeFile(file, `sandbox sample file, ${Math.round(age / day)} days old\n`, { mode: 0o644 })
    const at = new Date(Date.now() - age)
    await utimes(file, at, at)
  }
}
