import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, freePorts } from '../../src/lib/ports.js'
import { childPids, commandLine, isAlive, parentOf, processTree } from '../../src/lib/process.js'
import { findAccount, firstUntraversable, lookupUser } from '../../src/systems/os-user.js'
import { runProgramToSuccess, startInBackground } from '../../src/systems/programs.js'
import { tempDir } from '../helpers/temp.js'

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'postgres:x:104:110:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash',
  'broken:x::110::/nowhere:/bin/sh',
  'nohome:x:200:200:::/bin/sh',
  '',
].join('\n')

describe('OS users from the passwd file', () => {
  it('finds an account by its whole name, with uid, gid and home', () => {
    expect(findAccount(PASSWD, 'postgres')).toEqual({ name: 'postgres', uid: 104, gid: 110, home: '/var/lib/postgresql' })
    expect(findAccount(PASSWD, 'postgre')).toBeUndefined()
    expect(findAccount(PASSWD, 'nohome')).toEqual({ name: 'nohome', uid: 200, gid: 200, home: '/' })
  })

  it('takes a line without numbers for no account', () => {
    expect(findAccount(PASSWD, 'broken')).toBeUndefined()
  })

  it('reads a passwd file, and says nothing of one it cannot read', () => {
    const file = join(tempDir('passwd'), 'passwd')
    writeFileSync(file, PASSWD)
    expect(lookupUser('root', file)).toMatchObject({ uid: 0, gid: 0, home: '/root' })
    expect(lookupUser('root', `${file}.missing`)).toBeUndefined()
  })
})

describe('firstUntraversable', () => {
  const root = mkdtempSync(join(tmpdir(), 'po-traverse-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const stranger = { uid: 54_321, gid: 54_321 }

  it('names the first directory on the way that the user may not enter', () => {
    chmodSync(root, 0o755)
    mkdirSync(join(root, 'closed', 'inner'), { recursive: true })
    chmodSync(join(root, 'closed'), 0o700)
    expect(firstUntraversable(join(root, 'closed', 'inner', 'not-yet-made'), stranger)).toBe(join(root, 'closed'))
  })

  it('says nothing when every directory on the way may be entered', () => {
    mkdirSync(join(root, 'open', 'inner'), { recursive: true })
    chmodSync(join(root, 'open'), 0o711)
    expect(firstUntraversable(join(root, 'open', 'inner'), stranger)).toBeUndefined()
  })
})

describe('free ports', () => {
  it('are all different, and never handed out twice', async () => {
    const ports = [...(await freePorts(12)), await freePort()]
    expect(new Set(ports).size).toBe(ports.length)
    for (const port of ports) expect(port).toBeGreaterThan(0)
  })
})

describe('processes', () => {
  it('takes a zombie for dead, and finds children, trees and command lines', async () => {
    // The shell's child `true` exits at once; `sleep`, exec'd in the shell's place, never reaps it.
    const parent = spawn('/bin/sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' })
    try {
      let zombie: number | undefined
      for (let attempt = 0; attempt < 100 && zombie === undefined; attempt++) {
        zombie = childPids(parent.pid!).find((pid) => !isAlive(pid))
        if (zombie === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(zombie).toBeDefined()
      expect(() => process.kill(zombie!, 0)).not.toThrow()
      expect(isAlive(parent.pid!)).toBe(true)
      expect(parentOf(zombie!)).toBe(parent.pid)
      expect(processTree(parent.pid!)).toEqual([parent.pid, zombie])
      expect(commandLine(parent.pid!)).toEqual(['sleep', '30'])
    } finally {
      parent.kill('SIGKILL')
    }
  })
})

describe('programs', () => {
  it('starts a program in the background with its output in a log file', async () => {
    const log = join(tempDir('background'), 'service.log')
    const started = await startInBackground('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3'], { logFile: log, cwd: '/', env: { PATH: '/usr/bin:/bin' } })
    await started.exitPromise
    expect(started.exited).toEqual({ code: 3, signal: null })
    expect(readFileSync(log, 'utf8')).toBe('out\nerr\n')
  })

  it('says a program that cannot start could not start', async () => {
    const log = join(tempDir('background'), 'service.log')
    await expect(startInBackground('/nonexistent/program', [], { logFile: log, cwd: '/', env: {} })).rejects.toThrow(/program could not start/)
  })

  it('fails a run that exits other than 0 with its last line of output, and gives a replaced environment only what it names', async () => {
    await expect(runProgramToSuccess('/bin/sh', ['-c', 'echo fine; echo "it broke" >&2; exit 4'], { timeoutMs: 10_000 })).rejects.toThrow(
      'sh exited with 4: it broke',
    )
    const env = await runProgramToSuccess('/usr/bin/env', [], { timeoutMs: 10_000, env: { ONLY: 'this' }, replaceEnv: true })
    expect(env.stdout).toBe('ONLY=this')
  })
})
