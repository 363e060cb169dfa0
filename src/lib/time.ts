import { TimeoutError } from '../errors.js'

/**
 * Resolves with the work's result or rejects with a TimeoutError once `ms` have passed.
 * `onTimeout` releases whatever the work holds (a socket, a client) so nothing keeps the
 * process alive after the answer is given up on.
 */
export async function withTimeout<T>(
  what: string,
  ms: number,
  work: Promise<T>,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.()
      } catch {
        // releasing is best effort; the timeout is what we report
      }
      reject(new TimeoutError(what, ms))
    }, ms)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Parses `90s`, `15m`, `1h`, `7d` (a bare number is seconds) into milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text)
  if (!match) return undefined
  const unit = (match[2] || 's').toLowerCase()
  return Number(match[1]) * UNIT_MS[unit]!
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
