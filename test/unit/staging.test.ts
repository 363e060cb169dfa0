import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { abandonedStagings, removeStaging } from '../../src/backups/staging.js'
import { ownerLine } from '../../src/lib/process.js'

describe('copies staged in backup.dir', () => {
  it("are abandoned when their run is gone or unnoted; a live run's (a restore beside a backup verify) is left alone, a link is never one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'po-staging-'))
    try {
      const staged = (id: string) => join(dir, `.restore-staging-${id}`)
      writeFileSync(staged('live'), 'being written')
      writeFileSync(`${staged('live')}.run`, ownerLine())
      writeFileSync(staged('dead'), 'half a dump')
      writeFileSync(`${staged('dead')}.run`, '999999999 1\n')
      mkdirSync(staged('unnoted'))
      writeFileSync(`${staged('lone')}.run`, '999999999 1\n')
      symlinkSync('/etc', staged('link'))
      expect((await abandonedStagings(dir)).sort()).toEqual([staged('dead'), `${staged('lone')}.run`, staged('unnoted')].sort())

      await removeStaging(staged('dead'))
      expect([existsSync(staged('dead')), existsSync(`${staged('dead')}.run`)]).toEqual([false, false])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
