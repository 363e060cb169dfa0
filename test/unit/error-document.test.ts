import { resolve } from 'node:path'
import { Config, Flags } from '@oclif/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ProbeOpsCommand } from '../../src/cli/base-command.js'
import { jsonRequested } from '../../src/cli/output.js'
import { ERROR_CODES } from '../../src/errors.js'
import { expectErrorDocument, reportSchema } from '../helpers/report-schema.js'

/** A command with a bug in it: what the user sees of an error nobody foresaw. */
class Broken extends ProbeOpsCommand {
  static override id = 'broken'
  static override flags = { json: Flags.boolean() }
  async run(): Promise<void> {
    await this.parse(Broken)
    throw new TypeError("Cannot read properties of undefined (reading 'startedAt')")
  }
}

/** Runs it in this process and returns what it wrote to stdout and stderr, and its exit code. */
async function runBroken(argv: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  let stdout = ''
  let stderr = ''
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string, callback?: () => void) => {
    stdout += chunk
    callback?.()
    return true
  }) as typeof process.stdout.write)
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
    stderr += chunk
    return true
  }) as typeof process.stderr.write)
  const config = await Config.load(resolve(import.meta.dirname, '../..'))
  const exitCode = await Broken.run(argv, config).then(
    () => 0,
    (error: { oclif?: { exit?: number } }) => error.oclif?.exit,
  )
  vi.restoreAllMocks()
  return { stdout, stderr, exitCode }
}

describe('the error document', () => {
  afterEach(() => vi.restoreAllMocks())

  it('lists in the JSON Schema exactly the codes probe-ops uses', () => {
    expect(reportSchema.$defs.error.properties.error.properties.code.enum).toEqual([...ERROR_CODES])
  })

  it('is printed for an internal error under --json (exit 1), beside the one line on stderr', async () => {
    const broken = await runBroken(['--json'])
    expect(broken.exitCode).toBe(1)
    expect(broken.stderr).toBe(
      "probe-ops: internal error: Cannot read properties of undefined (reading 'startedAt')\n  this is a bug in probe-ops; run again with DEBUG=1 for the stack\n",
    )
    expect(expectErrorDocument(broken.stdout, 1, 'internal')).toMatchObject({
      command: 'broken',
      error: { message: expect.stringContaining('internal error') },
    })
    const plain = await runBroken([])
    expect(plain.exitCode).toBe(1)
    expect(plain.stdout).toBe('')
  })

  it('reads --json from argv, up to a "--"', () => {
    expect(jsonRequested(['--only', 'host', '--json'])).toBe(true)
    expect(jsonRequested(['--only', 'host'])).toBe(false)
    expect(jsonRequested(['--', '--json'])).toBe(false)
  })
})
