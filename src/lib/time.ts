import { TimeoutError } from '../errors.js'

/**
 * Resolves with the work's result or rejects with a TimeoutError once `ms` have passed.
 * `onTimeout` releases whatever the work holds (a socket, a client) so nothing keeps the
 * process alive after the answer is given up on.
 */
export async function withTimeout<T>(what: string, ms: number, work: Promise<T>, onTimeout?: () => void): Promise<T> {
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
