import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { writeConfig } from '../helpers/cli.js'
import { tempDir } from '../helpers/temp.js'

const ROOT = resolve(import.meta.dirname, '../..')
// npm and the installed probe-ops run on the Node that runs the tests (22 or newer).
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`

describe('the npm package', () => {
  it('packs what it needs, installs globally on a clean prefix, and runs', async () => {
    if (!existsSync(join(ROOT, 'dist/commands'))) throw new Error('dist/ is missing: run `npm run build` before the tests')
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main?: string; scripts: Record<string, string> }
    // A fresh clone has no dist/: npm pack builds it first.
    expect(manifest.scripts.prepack).toMatch(/npm run build/)

    // The build of this checkout is packed as is (prepack would only build it again).
    const dir = tempDir('po-pack')
    const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: { PATH } })
    const [tarball] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
    const files = tarball!.files.map((f) => f.path)
    for (const needed of [
      'bin/run.js',
      'bin/compile-cache.js',
      'oclif.manifest.json',
      'dist/commands/diagnose.js',
      'dist/cli/command-not-found.js',
      // The sandbox ships, with the local-platform toolkit it runs on.
      'dist/sandbox/up.js',
      'dist/sandbox/fake-http.js',
      'dist/local-platform/services.js',
      'docs/report.schema.json',
      'README.md',
    ]) {
      expect(files, needed).toContain(needed)
    }
    // Nothing that points at what is not shipped: no main that does not exist, no source maps of src/, no dev entry (tsx).
    if (manifest.main) expect(files).toContain(manifest.main)
    expect(files.filter((f) => f.endsWith('.map') || f.startsWith('src/') || f.startsWith('test/') || f === 'bin/dev.js')).toEqual([])

    // Its dependencies come from npm's cache when they are there; their build scripts (ssh2's optional
    // native speed-ups) are left out to keep this quick: probe-ops runs without them.
    const prefix = join(dir, 'prefix')
    const installed = await execa(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        join(dir, tarball!.filename),
        '--prefer-offline',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { env: { PATH }, reject: false },
    )
    expect(installed.exitCode, installed.stderr).toBe(0)
    expect(readdirSync(join(prefix, 'bin'))).toEqual(['probe-ops'])

    // Run as a user would, from elsewhere, through the bin link npm made.
    const probeOps = (...args: string[]) =>
      execa(join(prefix, 'bin/probe-ops'), args, { cwd: tempDir('po-installed-cwd'), env: { PATH }, extendEnv: false, reject: false })
    const version = await probeOps('--version')
    expect(version.exitCode, version.stderr).toBe(0)
    expect(version.stdout).toMatch(/^probe-ops\/\d+\.\d+\.\d+/)
    const help = await probeOps('diagnose', '--help')
    expect(help.exitCode, help.stderr).toBe(0)
    expect(help.stdout).toContain('--report-file')
    // A job too: its runtime dependencies are installed.
    const { path } = writeConfig({
      services: { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } },
    })
    const diagnose = await probeOps('diagnose', '--config', path, '--only', 'host', '--json')
    expect([0, 1], diagnose.stderr).toContain(diagnose.exitCode)
    const report = JSON.parse(diagnose.stdout) as { command: string; steps: Array<{ id: string; status: string }> }
    expect(report.command).toBe('diagnose')
    expect(report.steps.find((s) => s.id === 'host')!.status).not.toBe('skipped')
    // The sandbox's commands load the toolkit from the package.
    const down = await probeOps('sandbox', 'down', '--dir', join(dir, 'no-sandbox-here'))
    expect(down.exitCode, down.stderr).toBe(0)
    expect(down.stdout).toContain('nothing to stop')
  })
})
