/** promtool (Debian's prometheus package) for the tests that check metrics, rules and PromQL with it. */
import { execa } from 'execa'
import { expect } from 'vitest'
import { findExecutable } from '../../src/systems/programs.js'

export const promtool = await findExecutable('promtool')

/** Without promtool there is nothing to check with; CI has it, and must run the check. */
export const skipWithoutPromtool = !promtool && process.env.CI !== 'true'

/** Runs promtool, failing the test (with how to install it) when it is missing. */
export async function runPromtool(args: readonly string[], input?: string): Promise<{ exitCode: number; output: string }> {
  expect(promtool, 'promtool is not installed (apt-get install prometheus)').toBeDefined()
  const result = await execa(promtool!, args, { input, reject: false })
  return { exitCode: result.exitCode ?? -1, output: `${result.stdout}\n${result.stderr}` }
}

/** The metrics text passes `promtool check metrics` (format and naming lint). */
export async function expectPromtoolAccepts(text: string): Promise<void> {
  const check = await runPromtool(['check', 'metrics'], text)
  expect(check.exitCode, `${check.output}\n${text}`).toBe(0)
}

/** The value of the first sample of `name` whose label text includes `labels`. */
export function sampleValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}
