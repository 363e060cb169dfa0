import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let root: string | undefined

/** A fresh directory for a test; all of them go when the test process exits. */
export function tempDir(prefix: string): string {
  if (!root) {
    const created = mkdtempSync(join(tmpdir(), 'po-test-'))
    root = created
    process.once('exit', () => rmSync(created, { recursive: true, force: true }))
  }
  return mkdtempSync(join(root, `${prefix}-`))
}
