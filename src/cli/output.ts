import { describeError } from '../errors.js'

/**
 * How writing standard output can fail, decided once for the whole process. oclif's own listener
 * rethrows every stdout error but EPIPE, so `probe-ops diagnose > /dev/full` ended in a stack trace.
 * Here a reader that stopped reading (`| head`, EPIPE) is no failure: the rest of the output is
 * dropped quietly, as Unix tools do, and the run ends with its own exit code. Anything else (a full
 * disk behind `> file`) is one line on stderr and exit 1.
 */
let guarded = false
let readerGone = false
let failureSaid = false

export function guardStandardOutput(): void {
  if (guarded) return
  guarded = true
  process.stdout.removeAllListeners('error')
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      readerGone = true
      return
    }
    if (failureSaid) return
    failureSaid = true
    process.stderr.write(`probe-ops: cannot write to standard output: ${describeError(error)}\n`)
    process.exitCode = 1
  })
}

/** Writes to stdout; false when it could not be written (already said on stderr by the guard). */
export function writeStandardOutput(text: string): Promise<boolean> {
  guardStandardOutput()
  if (readerGone) return Promise.resolve(true)
  return new Promise((resolve) => {
    process.stdout.write(text, (error?: NodeJS.ErrnoException | null) => {
      if (error?.code === 'EPIPE') readerGone = true
      resolve(!error || readerGone)
    })
  })
}

/** A document as probe-ops prints it on stdout and into report files. */
export function toJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`
}

/** Whether --json was asked for, read from argv: also when parsing the flags is what failed. */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}
