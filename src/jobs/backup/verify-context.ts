import type { Config } from '../../config/load.js'
import type { BackupContext } from '../shared/backup-context.js'
import type { VerifyContext, VerifyOptions } from './context.js'

/** The backup `backup verify` names, in every repository (or those --repository picks). */
export async function verifyContext(config: Readonly<Config>, options: VerifyOptions, base: BackupContext): Promise<VerifyContext> {
  const { findInRepositories } = await import('../../backups/catalog.js')
  const { entry, unreadable } = await findInRepositories(config.backup, {
    name: options.backup,
    database: config.postgres.database,
    repositories: options.repositories,
  })
  return { ...base, entry, copies: entry.copies, unreadable, restoreTest: options.restoreTest, state: { passed: [], unrecorded: [] } }
}
