/** deploy/systemd: the shipped units run real probe-ops commands on a schedule, and systemd accepts them. */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { findExecutable } from '../../src/systems/programs.js'
import { tempDir } from '../helpers/temp.js'

const UNITS = join(import.meta.dirname, '../../deploy/systemd')
const PROGRAM = '/usr/local/bin/probe-ops'

const files = readdirSync(UNITS).sort()
const analyze = await findExecutable('systemd-analyze')
const named = (suffix: string) => files.filter((file) => file.endsWith(suffix)).map((file) => file.slice(0, -suffix.length))

/** The values of one key of a unit file (the last one wins in systemd, so there should be one). */
function settings(file: string, key: string): string[] {
  const text = readFileSync(join(UNITS, file), 'utf8')
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!.trim())
}

interface ManifestCommand {
  flags: Record<string, { type: 'boolean' | 'option' }>
  args: Record<string, unknown>
}
const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../../oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> }

/** The command a probe-ops argv names (its longest known prefix), and the flags it passes that the command does not have. */
function parseCommand(argv: readonly string[]): { id?: string; unknownFlags: string[]; extraArgs: string[] } {
  let length = argv.findIndex((word) => word.startsWith('-'))
  if (length < 0) length = argv.length
  while (length > 0 && !manifest.commands[argv.slice(0, length).join(':')]) length--
  const id = argv.slice(0, length).join(':')
  const command = manifest.commands[id]
  if (!command) return { unknownFlags: [], extraArgs: [] }
  const unknownFlags: string[] = []
  const positional: string[] = []
  for (let index = length; index < argv.length; index++) {
    const word = argv[index]!
    if (!word.startsWith('--')) {
      positional.push(word)
      continue
    }
    const flag = command.flags[word.slice(2).split('=')[0]!]
    if (!flag) unknownFlags.push(word)
    else if (flag.type === 'option' && !word.includes('=')) index++
  }
  return { id, unknownFlags, extraArgs: positional.slice(Object.keys(command.args).length) }
}

describe('deploy/systemd', () => {
  it('ships a service and a timer for maintain daily and weekly, capacity-report and the weekly restore test', () => {
    expect(named('.service')).toEqual(['probe-ops-backup-verify', 'probe-ops-capacity-report', 'probe-ops-maintain-daily', 'probe-ops-maintain-weekly'])
    expect(named('.timer')).toEqual(named('.service'))
    expect(files.filter((file) => !/\.(service|timer)$/.test(file))).toEqual([])
  })

  it('runs commands and flags probe-ops has, each bounded by its own --timeout', () => {
    const commands: Record<string, string> = {}
    for (const name of named('.service')) {
      const [execStart, ...more] = settings(`${name}.service`, 'ExecStart')
      expect(more, name).toEqual([])
      const [program, ...argv] = execStart!.split(/\s+/)
      expect(program, name).toBe(PROGRAM)
      const parsed = parseCommand(argv)
      expect(parsed, `${name}: ${execStart}`).toMatchObject({ unknownFlags: [], extraArgs: [] })
      expect(argv, name).toContain('--timeout')
      commands[name] = parsed.id!
    }
    expect(commands).toEqual({
      'probe-ops-backup-verify': 'backup:verify',
      'probe-ops-capacity-report': 'capacity-report',
      'probe-ops-maintain-daily': 'maintain:daily',
      'probe-ops-maintain-weekly': 'maintain:weekly',
    })
    expect(settings('probe-ops-backup-verify.service', 'ExecStart')[0]).toContain(' --restore-test')
  })

  it('schedules daily and weekly runs that catch up after downtime', () => {
    const calendar = Object.fromEntries(named('.timer').map((name) => [name, settings(`${name}.timer`, 'OnCalendar')]))
    expect(calendar).toEqual({
      'probe-ops-backup-verify': ['Sun *-*-* 05:00:00'],
      'probe-ops-capacity-report': ['*-*-* 06:30:00'],
      'probe-ops-maintain-daily': ['*-*-* 03:00:00'],
      'probe-ops-maintain-weekly': ['Sun *-*-* 04:00:00'],
    })
    for (const name of named('.timer')) {
      expect(settings(`${name}.timer`, 'Persistent'), name).toEqual(['true'])
      expect(settings(`${name}.timer`, 'WantedBy'), name).toEqual(['timers.target'])
    }
  })

  // Without systemd-analyze (not a systemd host) there is nothing to check with; CI has it, and must run this.
  it.skipIf(!analyze && process.env.CI !== 'true')('pass `systemd-analyze verify`', async () => {
    expect(analyze, 'systemd-analyze is not installed (apt-get install systemd)').toBeDefined()
    // A root of its own: the units installed where they go, probe-ops where they run it, systemd's own units beside them.
    const root = tempDir('systemd-root')
    const unitDir = join(root, 'etc/systemd/system')
    mkdirSync(unitDir, { recursive: true })
    for (const file of files) copyFileSync(join(UNITS, file), join(unitDir, file))
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true })
    writeFileSync(join(root, PROGRAM), '#!/bin/sh\n', { mode: 0o755 })
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true })
    symlinkSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'))
    const result = await execa(analyze!, ['verify', '--man=no', `--root=${root}`, ...files], { reject: false })
    // Its complaints about the host's own units under another root are not ours.
    const ours = result.stderr.split('\n').filter((line) => line.includes('probe-ops'))
    expect({ exitCode: result.exitCode, complaints: ours }).toEqual({ exitCode: 0, complaints: [] })
  })
})
