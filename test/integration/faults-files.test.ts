import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseReport, runCli, writeConfig } from '../helpers/cli.js'
import { makeFifo, openFifoReader } from '../helpers/fifo.js'
import { tempDir } from '../helpers/temp.js'

/**
 * Fault injection: hostile or broken things where probe-ops, run as root, reads and writes
 * files. Each case is what an outside adversarial pass found; none may harm what was there.
 */

const NO_SERVICES = { management: { enabled: false }, web: { enabled: false }, postgres: { enabled: false }, redis: { enabled: false } }

/** Bad usage: one line (and a hint), exit 2, no stack trace, nothing on stdout. */
function expectRefused(result: { exitCode: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(result.exitCode, result.stderr).toBe(2)
  expect(result.stderr).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
  expect(result.stdout).toBe('')
}

describe('fault injection: what sits at the paths probe-ops writes', () => {
  const diagnose = (config: string, reportFile: string, ...more: string[]) => runCli(['diagnose', '--config', config, '--only', 'host', '--json', '--report-file', reportFile, ...more])

  it('writes --report-file /dev/null through the device: /dev/null stays a character device', async () => {
    const { path } = writeConfig({ services: NO_SERVICES })
    const result = await diagnose(path, '/dev/null')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(parseReport(result).command).toBe('diagnose')
    expect(result.stderr).not.toMatch(/could not write/)
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true)
  })

  it('writes through any character device it is given, and leaves it a device', async () => {
    const dir = tempDir('po-device')
    const device = join(dir, 'null')
    execFileSync('mknod', [device, 'c', '1', '3'])
    const { path } = writeConfig({ services: NO_SERVICES })
    const result = await diagnose(path, device)
    expect(result.exitCode, result.stderr).toBe(0)
    expect(lstatSync(device).isCharacterDevice()).toBe(true)
    expect(readdirSync(dir)).toEqual(['null'])
  })

  it('writes the report into a FIFO with a reader, and fails at once on a FIFO without one', async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES })
    const fifo = join(dir, 'report.fifo')
    makeFifo(fifo)
    const reader = openFifoReader(fifo)
    const result = await diagnose(path, fifo)
    expect(result.exitCode, result.stderr).toBe(0)
    const received = JSON.parse(await reader.readUntil(/\n}\n$/))
    expect(received).toEqual(parseReport(result))
    expect(lstatSync(fifo).isFIFO()).toBe(true)

    const lonely = join(dir, 'lonely.fifo')
    makeFifo(lonely)
    // Would hang forever on open() without a reader; it says so instead.
    const noReader = await diagnose(path, lonely)
    expect(noReader.stderr).toMatch(/could not write the report file .*lonely\.fifo: .*lonely\.fifo is a FIFO with no reader/)
    expect(parseReport(noReader).command).toBe('diagnose')
    expect(lstatSync(lonely).isFIFO()).toBe(true)
  })

  it('refuses a symbolic link or a directory as --report-file with exit 2, before the job runs', async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES, cleanup: { logs: [], temp: [] } })
    const victim = join(dir, 'victim.json')
    writeFileSync(victim, 'keep me\n')
    const link = join(dir, 'report.json')
    symlinkSync(victim, link)
    expectRefused(await diagnose(path, link), /--report-file .*report\.json is a symbolic link: probe-ops does not write through links\n\s+name the file the link points to/)
    expect(readlinkSync(link)).toBe(victim)
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n')

    const directory = join(dir, 'reports')
    mkdirSync(directory)
    expectRefused(await diagnose(path, directory), /--report-file .*reports is a directory/)
    expect(readdirSync(directory)).toEqual([])

    // The same for a job that takes a lock and changes things: refused before it starts.
    const daily = await runCli(['maintain', 'daily', '--config', path, '--only', 'clean-logs', '--report-file', link])
    expectRefused(daily, /--report-file .*report\.json is a symbolic link/)
    expect(existsSync(join(dir, 'maintenance.log'))).toBe(false)
    expect(existsSync(join(dir, 'metrics'))).toBe(false)
  })

  it("says which of its own files it could not write (a link or a FIFO in its directories) and leaves them", async () => {
    const { path, dir } = writeConfig({ services: NO_SERVICES })
    const victim = join(dir, 'victim')
    writeFileSync(victim, 'keep me\n')
    mkdirSync(join(dir, 'metrics'))
    symlinkSync(victim, join(dir, 'metrics', 'probe_ops_diagnose.prom'))
    symlinkSync(victim, join(dir, 'maintenance.log'))
    const result = await runCli(['diagnose', '--config', path, '--only', 'host', '--json'])
    expect(parseReport(result).command).toBe('diagnose')
    expect(result.stderr).toMatch(/could not write the maintenance log .*maintenance\.log: .*maintenance\.log is a symbolic link/)
    expect(result.stderr).toMatch(/could not write the metrics file in .*metrics: .*probe_ops_diagnose\.prom is a symbolic link/)
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n')
    expect(lstatSync(join(dir, 'maintenance.log')).isSymbolicLink()).toBe(true)
    expect(lstatSync(join(dir, 'metrics', 'probe_ops_diagnose.prom')).isSymbolicLink()).toBe(true)

    const fifoConfig = writeConfig({ services: NO_SERVICES })
    makeFifo(join(fifoConfig.dir, 'maintenance.log'))
    const fifo = await runCli(['diagnose', '--config', fifoConfig.path, '--only', 'host', '--json'])
    expect(fifo.stderr).toMatch(/could not write the maintenance log .*maintenance\.log is a FIFO, not a file probe-ops wrote/)
    expect(lstatSync(join(fifoConfig.dir, 'maintenance.log')).isFIFO()).toBe(true)
  })
})
