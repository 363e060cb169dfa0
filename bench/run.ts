/**
 * `npm run bench -- [flags]`: the benchmarks. Today there is one, issue 2's diagnose and cold
 * start figures (bench/diagnose.ts; same flags, see `--help`). Run as root.
 */
import { main } from './diagnose.js'

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
