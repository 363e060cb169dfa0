import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'

export interface SmallDisk {
  /** The mount point: a disk of its own that fills up after `size`. */
  dir: string
  unmount(): Promise<void>
}

/**
 * A tmpfs of `size` (as mount's size=: 2m, 512k), mounted for a test that needs a disk to fill
 * up for real (ENOSPC from the kernel, not a mock). Needs root, as the integration tests do;
 * a test that cannot have it fails.
 */
export async function mountSmallDisk(size: string): Promise<SmallDisk> {
  const dir = mkdtempSync(join(tmpdir(), 'po-full-'))
  const mounted = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { reject: false })
  if (mounted.exitCode !== 0) {
    rmdirSync(dir)
    throw new Error(`cannot mount a ${size} tmpfs on ${dir} (the full-disk tests need root): ${mounted.stderr}`)
  }
  return {
    dir,
    async unmount() {
      await execa('umount', [dir])
      rmdirSync(dir)
    },
  }
}
