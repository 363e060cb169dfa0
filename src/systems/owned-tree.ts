import { rm, rmdir } from 'node:fs/promises'
import { asUser, type OsUser } from './os-user.js'
import { runProgram } from './programs.js'

/**
 * Removing a directory probe-ops made and then gave to another OS user (PostgreSQL's): whatever
 * that user put in it meanwhile, a link out of it included, root removes nothing through it.
 */

/** What is in the directory, removed as its owner (find -delete, which follows no link). */
export async function emptyOwnedTree(dir: string, owner: OsUser | undefined): Promise<void> {
  const removed = await runProgram('find', ['.', '-mindepth', '1', '-delete'], { user: owner, cwd: dir, timeoutMs: 300_000 })
  if (removed.exitCode !== 0) throw new Error(`find -delete in ${dir} failed: ${removed.stderr.trim().split('\n').at(-1)}`)
}

/**
 * The directory and all below it: its content as its owner (see emptyOwnedTree), then the
 * directory itself, in a parent that may be root's, by root, only if it is still an empty directory.
 */
export async function removeOwnedTree(dir: string, owner: OsUser | undefined): Promise<void> {
  if (asUser(owner).uid === undefined) return rm(dir, { recursive: true, force: true })
  await emptyOwnedTree(dir, owner)
  await rmdir(dir)
}
