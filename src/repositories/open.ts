import { effectiveRepositories, type BackupPlaces } from '../config/repositories.js'
import type { S3ClientOptions } from '../systems/s3.js'
import { LocalRepository } from './local.js'
import type { Repository } from './repository.js'
import { S3Repository } from './s3.js'

/**
 * The repositories of a configuration, in its order of preference (restore and fetch read from
 * the first that has a good copy). Without `backup.repositories`, backup.dir is the one local
 * repository, with backup.walDir as its wal/. Opening costs nothing: an S3 repository builds its
 * client (and loads the SDK) on its first request. One set per configuration per run, so that a
 * job's steps share the clients and their connections.
 */

const opened = new WeakMap<BackupPlaces, Repository[]>()

export function openRepositories(backup: BackupPlaces, options: S3ClientOptions = {}): Repository[] {
  const known = opened.get(backup)
  if (known) return known
  const repositories = effectiveRepositories(backup).map((config, index): Repository =>
    config.type === 'local' ? new LocalRepository(config) : new S3Repository(config, { ...options, setting: `backup.repositories[${index}]` }),
  )
  opened.set(backup, repositories)
  return repositories
}

/** The repositories a command's --repository flag names, in configuration order; all without one. */
export function selectRepositories(repositories: readonly Repository[], names: readonly string[] | undefined): Repository[] | { unknown: string[] } {
  if (!names?.length) return [...repositories]
  const unknown = names.filter((name) => !repositories.some((repository) => repository.name === name))
  if (unknown.length > 0) return { unknown }
  return repositories.filter((repository) => names.includes(repository.name))
}
