/**
 * The CLI under test, copied to a private temp dir first: other engineers rebuild dist/ (rm -rf
 * dist, tsc) while the bench runs, and a run that catches dist/ half-built measures nothing.
 * The copy is the same files (bin/, dist/, package.json, oclif.manifest.json, with node_modules
 * linked back), run the same way: `node COPY/bin/run.js ...`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

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
