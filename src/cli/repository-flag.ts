import { Flags } from '@oclif/core'

/** --repository NAME (repeatable): the repositories of backup.repositories a command reads; all without it. */
export const repositoryFlags = {
  repository: Flags.string({
    description: 'only this repository of backup.repositories (repeatable; "local" is backup.dir when there are none)',
    multiple: true,
  }),
}

/** The job option the flag gives. */
export function repositoryOption(flags: { repository?: string[] }): { repositories?: string[] } {
  return flags.repository?.length ? { repositories: flags.repository } : {}
}
