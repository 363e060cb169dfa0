import { spawn } from 'node:child_process'
import { symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  beginSwitch,
  endSwitch,
  foreignSwitch,
  interruptedSwitch,
  leftStopped,
  noteStopping,
  stoppedServicesNotePath,
  switchNames,
  switchNotePath,
  type SwitchNote,
} from '../../src/backups/run-notes.js'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'
import { isProcessAlive, processStart } from '../../src/lib/process.js'
import { abandonedRunNote, removeRunNote, runNoteSchema, writeRunNote } from '../../src/lib/run-note.js'
import { startZombie } from '../helpers/processes.js'
import { tempDir } from '../helpers/temp.js'

const schema = runNoteSchema.extend({ services: z.array(z.string()).optional() })

describe('run notes', () => {
  it('are created once: a second writer is refused, never written over the first', async () => {
    const path = join(tempDir('po-note'), 'note.json')
    await writeRunNote(path, { services: ['management'] }, () => new Error('taken'))
    await expect(writeRunNote(path, { services: ['web'] }, () => new Error('taken'))).rejects.toThrow('taken')
    // Its writer (this process) is alive: not abandoned.
    expect(await abandonedRunNote(path, schema)).toBeUndefined()
    await removeRunNote(path)
    expect(await abandonedRunNote(path, schema)).toBeUndefined()
  })

  it('are abandoned once their writer is gone, a reused pid included', async () => {
    const dir = tempDir('po-note')
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.once('exit', r))
    writeFileSync(join(dir, 'dead.json'), JSON.stringify({ services: ['management'], pid: child.pid, startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'dead.json'), schema)).toMatchObject({ services: ['management'] })
    // This process's pid with another start time: a reused pid, not the writer.
    writeFileSync(join(dir, 'reused.json'), JSON.stringify({ pid: process.pid, processStart: '1', startedAt: 'x' }))
    expect(await abandonedRunNote(join(dir, 'reused.json'), schema)).toMatchObject({ pid: process.pid })
  })

  it('are abandoned once their writer is a zombie: it has exited, only its parent has not collected it', async () => {
    const dir = tempDir('po-note')
    const zombie = await startZombie()
    try {
      const start = processStart(zombie.pid)
      expect(start).toBeDefined()
      expect(isProcessAlive(zombie.pid)).toBe(false)
      expect(isProcessAlive(zombie.pid, start)).toBe(false)
      writeFileSync(join(dir, 'zombie.json'), JSON.stringify({ services: ['management'], pid: zombie.pid, processStart: start, startedAt: 'x' }))
      expect(await abandonedRunNote(join(dir, 'zombie.json'), schema)).toMatchObject({ services: ['management'], pid: zombie.pid })
      // A live process is alive, with or without its start time.
      expect(isProcessAlive(process.pid, processStart(process.pid))).toBe(true)
    } finally {
      zombie.stop()
    }
  })

  it('say so when a note is not one probe-ops wrote', async () => {
    const dir = tempDir('po-note')
    writeFileSync(join(dir, 'garbage.json'), 'not json')
    writeFileSync(join(dir, 'empty.json'), '{}')
    await expect(abandonedRunNote(join(dir, 'garbage.json'), schema)).rejects.toThrow(/is not a note probe-ops wrote/)
    await expect(abandonedRunNote(join(dir, 'empty.json'), schema)).rejects.toThrow(/is not a note probe-ops wrote/)
  })

  it('refuse a note of the wrong shape or behind a link: nothing it names is acted on', async () => {
    const dir = tempDir('po-note')
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ services: 'management', pid: 4242, startedAt: 'x' }))
    await expect(abandonedRunNote(join(dir, 'types.json'), schema)).rejects.toThrow(
      /types\.json is not a note probe-ops wrote \(services: Expected array, received string\)/,
    )
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify({ services: ['management'], pid: 4242, startedAt: 'x' }))
    symlinkSync(join(dir, 'elsewhere.json'), join(dir, 'link.json'))
    await expect(abandonedRunNote(join(dir, 'link.json'), schema)).rejects.toThrow(/link\.json is not a note probe-ops wrote \(.*is a symbolic link\)/)
  })
})

describe("a restore's notes in backup.dir", () => {
  /** A platform whose PostgreSQL runs from /srv/pg/data as a process, its backups in a fresh directory. */
  function platform(runtime: 'process' | 'docker' = 'process') {
    const dir = tempDir('po-notes')
    const yaml = `backup:\n  dir: ${dir}\npostgres:\n  database: network_probe\nservices:\n  postgres:\n    runtime: ${runtime}\n    dataDir: /srv/pg/data\n${runtime === 'process' ? '    pidFile: /srv/pg/data/postmaster.pid\n    start: [pg_ctl, start]\n' : ''}`
    return { dir, config: resolveConfig(parseConfigText(yaml, 'test.yaml'), 'test.yaml', {}) }
  }

  /** The pid of a process that has exited: a note's writer that is gone. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.once('exit', r))
    return child.pid!
  }

  const stamp = '20261125T031500Z'
  const journal = (liveDir: string, changes: Partial<SwitchNote> = {}): SwitchNote => ({
    liveDir,
    ...switchNames(liveDir, stamp),
    service: 'postgres',
    pid: 1,
    startedAt: 'x',
    ...changes,
  })

  it("take a switch's note only for the configured data directory and the two names a switch gives beside it", () => {
    const { config } = platform()
    expect(foreignSwitch(config, journal('/srv/pg/data'))).toBeUndefined()
    expect(foreignSwitch(config, journal('/srv/victim'))).toBe('its data directory /srv/victim is not services.postgres.dataDir (/srv/pg/data)')
    expect(foreignSwitch(config, journal('/srv/pg/../data'))).toMatch(/is not an absolute, plain path/)
    expect(foreignSwitch(config, journal('/srv/pg/data', { aside: '/srv/victim.pre-pitr-20261125T031500Z' }))).toMatch(
      /are not the names a switch gives beside/,
    )
    expect(foreignSwitch(config, journal('/srv/pg/data', { service: 'redis' }))).toBe('it names service redis, not the configured postgres')
    // Under Docker the directory is the container's mount source, checked when acted on.
    expect(foreignSwitch(platform('docker').config, journal('/var/lib/docker/volumes/pg/_data'))).toBeUndefined()
  })

  it("are refused as foreign when a dead writer's note names what is not its own, and never while the writer runs", async () => {
    const { config } = platform()
    await beginSwitch(config, { liveDir: '/srv/victim', ...switchNames('/srv/victim', stamp), service: 'postgres' })
    // This process wrote it and runs: not interrupted, whatever it names.
    expect(await interruptedSwitch(config)).toBeUndefined()
    await endSwitch(config)
    writeFileSync(switchNotePath(config), JSON.stringify({ ...journal('/srv/victim'), pid: await deadPid() }))
    await expect(interruptedSwitch(config)).rejects.toThrow(/\.pitr-switch\.json is not a note probe-ops wrote \(its data directory \/srv\/victim/)
    writeFileSync(switchNotePath(config), JSON.stringify({ ...journal('/srv/pg/data'), pid: await deadPid() }))
    expect(await interruptedSwitch(config)).toMatchObject({ liveDir: '/srv/pg/data' })
  })

  it("take a swap's note only for the live database and the copies a restore of it makes", async () => {
    const { config } = platform()
    const swap = { live: 'network_probe', restored: 'network_probe_restore_20261125_031500', preRestore: 'network_probe_pre_restore_20261125_031500' }
    await noteStopping(config, ['management'], { ...swap, phase: 'stopping' })
    await expect(noteStopping(config, ['web'], { ...swap, phase: 'stopping' })).rejects.toThrow(/services stopped by another restore are noted in/)
    const dead = await deadPid()
    writeFileSync(stoppedServicesNotePath(config), JSON.stringify({ services: ['management'], swap: { ...swap, phase: 'swapped' }, pid: dead, startedAt: 'x' }))
    expect(await leftStopped(config)).toMatchObject({ services: ['management'], swap: { phase: 'swapped' } })
    for (const forged of [
      { ...swap, live: 'victim' },
      { ...swap, preRestore: 'victim' },
      { ...swap, restored: 'network_probe_restore_x' },
    ]) {
      writeFileSync(stoppedServicesNotePath(config), JSON.stringify({ services: [], swap: { ...forged, phase: 'rolling-back' }, pid: dead, startedAt: 'x' }))
      await expect(leftStopped(config)).rejects.toThrow(/\.restore-stopped-services\.json is not a note probe-ops wrote \(its swap names databases/)
    }
  })
})
