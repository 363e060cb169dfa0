/**
 * The CLI under test, copied to a private temp dir first: other engineers rebuild dist/ (rm -rf
 * dist, tsc) while the bench runs, and a run that catches dist/ half-built measures nothing.
 * The copy is the same files (bin/, dist/, package.json, oclif.manifest.json, with node_modules
 * linked back), run the same way: `node COPY/bin/run.js ...`.
 *
 * A baseline (`--baseline REF`) is another copy: git REF's tree, built from scratch in a temp dir
 * with its own dependencies, so that the CLI before a change runs beside the CLI after it.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { cleanEnv, fail, timed } from './proc.js'

export interface CliSnapshot {
  root: string
  /** COPY/bin/run.js */
  bin: string
  /** How the copy was made, for the report. */
  origin: string
  /** src/ files newer than their compiled file in the copy (empty after --build). */
  stale: string[]
  remove(): Promise<void>
}

function newest(dir: string): number {
  let t = statSync(dir).mtimeMs
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    t = Math.max(t, statSync(path.join(e.parentPath, e.name)).mtimeMs)
  }
  return t
}

/** Waits until ROOT/dist looks complete and has not changed for a while (no build running). */
async function waitForQuietDist(root: string, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 180_000
  let said = false
  for (;;) {
    const complete = existsSync(path.join(root, 'dist/commands/diagnose.js')) && existsSync(path.join(root, 'oclif.manifest.json'))
    if (complete) {
      const age = Date.now() - Math.max(newest(path.join(root, 'dist')), statSync(path.join(root, 'oclif.manifest.json')).mtimeMs)
      if (age > 3000) return
    }
    if (Date.now() > deadline) throw new Error('dist/ stayed incomplete or kept changing for 3 minutes: run `npm run build`, or pass --build')
    if (!said) log('waiting for dist/ to be complete and quiet (a build is running?)')
    said = true
    await sleep(500)
  }
}

function staleFiles(root: string, copy: string): string[] {
  const stale: string[] = []
  const src = path.join(root, 'src')
  for (const e of readdirSync(src, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue
    const file = path.join(e.parentPath, e.name)
    const built = path.join(copy, 'dist', path.relative(src, file).replace(/\.ts$/, '.js'))
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs) stale.push(path.relative(root, file))
  }
  return stale
}

export async function snapshotCli(root: string, opts: { build: boolean; log: (line: string) => void }): Promise<CliSnapshot> {
  const copy = await mkdtemp(path.join(os.tmpdir(), 'po-bench-cli-'))
  const remove = (): Promise<void> => rm(copy, { recursive: true, force: true })
  try {
    await symlink(path.join(root, 'node_modules'), path.join(copy, 'node_modules'))
    execFileSync('cp', ['-a', path.join(root, 'package.json'), path.join(root, 'bin'), copy])
    let origin: string
    if (opts.build) {
      opts.log('building src/ into a private copy (tsc -p tsconfig.build.json --outDir COPY/dist; oclif manifest)')
      execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', path.join(copy, 'dist')], {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      execFileSync(path.join(root, 'node_modules/.bin/oclif'), ['manifest'], { cwd: copy, stdio: ['ignore', 'ignore', 'inherit'] })
      origin = 'a private copy built from src/ by the bench (`--build`)'
    } else {
      await waitForQuietDist(root, opts.log)
      execFileSync('cp', ['-a', path.join(root, 'dist'), path.join(root, 'oclif.manifest.json'), copy])
      origin = 'a private copy of dist/ and oclif.manifest.json as `npm run build` left them'
    }
    return { root: copy, bin: path.join(copy, 'bin/run.js'), origin, stale: staleFiles(root, copy), remove }
  } catch (err) {
    await remove()
    throw err
  }
}

/** REF's commit (full hash) and subject, or undefined when REF names no commit of the repository. */
export function resolveCommit(root: string, ref: string): { commit: string; subject: string } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    const subject = execFileSync('git', ['log', '-1', '--format=%s', commit], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return { commit, subject }
  } catch {
    return undefined
  }
}

/** One build command in `cwd`, killed with the bench on a signal; a failure says which and shows its output. */
async function buildStep(command: string, args: string[], cwd: string, log: (line: string) => void): Promise<void> {
  log(`baseline: ${command} ${args.join(' ')}`)
  const result = await timed(command, args, { env: cleanEnv(), cwd, timeoutMs: 20 * 60_000 })
  if (result.exitCode !== 0) fail(`baseline: ${command} ${args.join(' ')}`, 'the baseline could not be built', result)
}

/**
 * git REF's CLI, built inside `dir` (an empty temp dir the caller removes): `git archive` of the
 * commit (it reads the object store only: no checkout, no stash, no worktree, so neither this
 * repository nor any other worktree changes), then `npm ci` and `npm run build` there.
 */
export async function baselineCli(root: string, ref: string, dir: string, log: (line: string) => void): Promise<CliSnapshot> {
  const resolved = resolveCommit(root, ref)
  if (!resolved) throw new Error(`--baseline ${ref}: no such commit`)
  const tree = path.join(dir, 'tree')
  const tarball = path.join(dir, 'source.tar')
  await buildStep('git', ['archive', '--format=tar', '-o', tarball, resolved.commit], root, log)
  await mkdir(tree)
  await buildStep('tar', ['-xf', tarball, '-C', tree], dir, log)
  await rm(tarball)
  await buildStep('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], tree, log)
  await buildStep('npm', ['run', '--silent', 'build'], tree, log)
  return {
    root: tree,
    bin: path.join(tree, 'bin/run.js'),
    origin: `\`git archive\` of ${ref} (commit ${resolved.commit.slice(0, 7)}, "${resolved.subject}"), built by the bench in a temp dir (\`npm ci\`, \`npm run build\`) with its own node_modules`,
    stale: [],
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}
