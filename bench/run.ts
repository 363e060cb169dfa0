/**
 * `npm run bench -- NAME [flags]`: runs the benchmark NAME (bench/NAME.ts; `--help` lists its
 * flags); `npm run bench` alone lists the benchmarks. Each also runs on its own as
 * `node --import tsx bench/NAME.ts [flags]`.
 */
import { runBench, type BenchDefinition } from './lib/harness.js'

/** Loaded on demand: a benchmark's imports (pg, the test bed) cost nothing to the others. */
const BENCHES: Record<string, () => Promise<{ definition: BenchDefinition<unknown> }>> = {
  diagnose: () => import('./diagnose.js'),
  'maintain-daily': () => import('./maintain-daily.js'),
  'backup-restore': () => import('./backup-restore.js'),
  'restore-phases': () => import('./restore-phases.js'),
  recover: () => import('./recover.js'),
  'cert-check': () => import('./cert-check.js'),
  capacity: () => import('./capacity.js'),
  startup: () => import('./startup.js'),
  'config-load': () => import('./config-load.js'),
  'wal-segment': () => import('./wal-segment.js'),
  'wal-push': () => import('./wal-push.js'),
  'wal-archiver': () => import('./wal-archiver.js'),
  agents: () => import('./agents.js'),
}

async function list(): Promise<string> {
  const lines = ['usage: npm run bench -- NAME [flags]   (npm run bench -- NAME --help: its flags)', '', 'benchmarks:']
  for (const [name, load] of Object.entries(BENCHES)) lines.push(`  ${name.padEnd(16)}${(await load()).definition.summary}`)
  return lines.join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${await list()}\n`)
    return 0
  }
  const load = BENCHES[name]
  if (!load) {
    process.stderr.write(`no benchmark "${name}"\n${await list()}\n`)
    return 2
  }
  return runBench((await load()).definition, rest)
}

main(process.argv.slice(2)).then(
  (exitCode) => process.exit(exitCode),
  (error: unknown) => {
    process.stderr.write(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
