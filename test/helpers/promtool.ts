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
