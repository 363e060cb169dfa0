import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/** Asks `probe` every 250 ms until it answers (not undefined), for at most `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() - started > timeoutMs) throw new Error(`waited ${timeoutMs / 1000} s for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Every file under `dir`, as paths relative to it, with their modification times. */
export function filesUnder(dir: string): Map<string, number> {
  const found = new Map<string, number>()
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else found.set(relative(dir, path), statSync(path).mtimeMs)
    }
  }
  walk(dir)
  return found
}
