import { UsageError } from '../errors.js'

/**
 * The guard of destructive commands: --yes, or the operator types the word asked for on a
 * terminal. Without a terminal and without --yes nothing is changed (exit 2).
 */
export async function confirmDestructive(options: { yes: boolean; dryRun: boolean; what: string; word: string }): Promise<void> {
  if (options.yes || options.dryRun) return
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(
      `${options.what}: pass --yes to confirm (there is no terminal to ask on)`,
      'or run it with --dry-run first to see what it would do',
      'confirmation-required',
    )
  }
  const { createInterface } = await import('node:readline/promises')
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question(`${options.what}.\nType "${options.word}" to go on: `)
    if (answer.trim() !== options.word) throw new UsageError('not confirmed: nothing was changed', undefined, 'confirmation-required')
  } finally {
    rl.close()
  }
}
