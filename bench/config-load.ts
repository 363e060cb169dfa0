/**
 * Configuration parsing time against file size (issue 11 item 8): the loader of probe-ops (YAML
 * events, schema, resolution) against what it replaced (the yaml package's document API with
 * uniqueKeys, which compared every key of a mapping with every other), on generated files of
 * growing size and three shapes; then `probe-ops config validate` end to end (spawn to exit) on a
 * file of about 1 MB, the size the target names, and on an empty one.
 *
 *   npm run bench -- config-load [--runs 5] [--before-max 2] [--build]
 *
 * In-process figures are the median of --runs parses after one warm-up; the old parser is run up
 * to --before-max MB (it takes many seconds past that). End to end, the private copy of the built
 * CLI (`npm run build` first, or --build). No root, no services.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { parseConfigText, resolveConfig } from '../src/config/load.js'
import { configSchema } from '../src/config/schema.js'
import { ROOT, UsageError, commandVariant, integer, interleave, medianOf, runIfMain, text, type Bench, type BenchDefinition } from './lib/harness.js'
import { code, table } from './lib/markdown.js'
import { cleanEnv } from './lib/proc.js'
import { median, ms } from './lib/stats.js'

interface Args {
  runs: number
  beforeMaxBytes: number
}

const SIZES = [0.125, 0.25, 0.5, 1, 2, 4].map((megabytes) => megabytes * 1_000_000)

/** The shapes a large configuration takes: many services (block style), a long list, one flow mapping. */
const SHAPES: Record<string, (n: number) => string> = {
  'services (block)': (n) =>
    `services:\n${Array.from({ length: n }, (_, i) => `  service-${i}:\n    runtime: systemd\n    unit: service-${i}.service\n    url: http://localhost:${1000 + (i % 60000)}/health\n    dependsOn: [postgres]\n`).join('')}`,
  'endpoints (list)': (n) => `certificates:\n  endpoints:\n${Array.from({ length: n * 4 }, (_, i) => `    - host-${i}.example.com:443\n`).join('')}`,
  'services (one flow mapping)': (n) =>
    `services: {${Array.from({ length: n }, (_, i) => `service-${i}: {runtime: systemd, unit: service-${i}.service, dependsOn: [postgres]}`).join(', ')}}\n`,
}

/** The shape's text with as many entries as make it about `bytes` long (at most that). */
function sized(make: (n: number) => string, bytes: number): { n: number; text: string } {
  const perEntry = make(1000).length / 1000
  let n = Math.floor(bytes / perEntry)
  let text = make(n)
  while (text.length > bytes) text = make(--n)
  return { n, text }
}

/** What probe-ops did before: yaml's document API (uniqueKeys on), toJS, the same schema. */
function parseBefore(text: string): void {
  const doc = parseDocument(text, { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message)
  configSchema.parse(doc.toJS())
}

function parseNow(text: string): void {
  resolveConfig(parseConfigText(text, 'bench.yaml'), null, {})
}

/** The median of `runs` timings of `work` in this process, after one warm-up. */
function timeIt(runs: number, work: () => void): number {
  work()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    work()
    times.push(performance.now() - started)
  }
  return median(times)
}

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(2)} MB`

/** Parsing in process, now and before, per shape and size. */
function parsingSections(bench: Bench, args: Args): string[] {
  const sections: string[] = []
  for (const [shape, make] of Object.entries(SHAPES)) {
    const rows: string[][] = []
    for (const bytes of SIZES) {
      const { n, text } = sized(make, bytes)
      bench.log(`${shape}: ${n} (${mb(text.length)})`)
      const now = timeIt(args.runs, () => parseNow(text))
      const before = bytes <= args.beforeMaxBytes ? timeIt(args.runs, () => parseBefore(text)) : undefined
      rows.push([
        String(n),
        mb(text.length),
        ms(now),
        `${((now * 1000) / text.length).toFixed(2)} µs`,
        before === undefined ? '-' : ms(before),
        before === undefined ? '-' : `${(before / now).toFixed(1)}×`,
      ])
    }
    sections.push(`#### ${shape}`, '', table(['entries', 'size', 'now', 'now per byte', 'before', 'before / now'], rows, ['r', 'r', 'r', 'r', 'r', 'r']), '')
  }
  return sections
}

async function run(bench: Bench, args: Args): Promise<void> {
  const sections = parsingSections(bench, args)
  // The error path: a line-precise error at the end of a 1 MB file (the event walk that finds the line).
  // 1 MB: the size the target names (the loader refuses files past 1 MiB).
  const { n: megabyteServices, text: services } = sized(SHAPES['services (block)']!, 1_000_000)
  const typo = `${services}  last:\n    untis: typo\n`
  let errorLine = ''
  const errorMs = timeIt(args.runs, () => {
    try {
      parseNow(typo)
    } catch (error) {
      errorLine = (error as Error).message
    }
  })

  // End to end: the built CLI, spawn to exit.
  const work = await bench.tempDir('po-bench-config-')
  const big = path.join(work, 'big.yaml')
  const empty = path.join(work, 'empty.yaml')
  writeFileSync(big, services)
  writeFileSync(empty, '')
  bench.log('config validate end to end')
  const validate = (key: string, file: string) =>
    commandVariant({
      key,
      label: `probe-ops config validate (${key})`,
      command: process.execPath,
      args: [bench.cli.bin, 'config', 'validate', '--config', file],
      env: cleanEnv({ NODE_ENV: 'production' }),
      cwd: ROOT,
    })
  const endToEnd = await interleave(bench, 'config validate', [validate('empty', empty), validate('1 MB', big)], args.runs)
  bench.raw.endToEnd = Object.fromEntries(endToEnd)
  bench.raw.errorMs = errorMs
  bench.out.push(
    '- Method: in process, the median of the runs after one warm-up: "now" is parseConfigText + resolveConfig (js-yaml events, the zod schema, resolution); "before" is the loader it replaced (yaml parseDocument with uniqueKeys, toJS, the same schema). End to end: the built CLI, spawn to exit, the two files in turn after one warm-up each.',
    '',
    ...sections,
    `A line-precise error at the end of the ${mb(typo.length)} file: ${ms(errorMs)} (${code(errorLine)}).`,
    '',
    table(
      ['command', 'file', 'median'],
      [
        [code('probe-ops config validate'), 'empty file', ms(medianOf(endToEnd.get('empty')!))],
        [
          code('probe-ops config validate'),
          `${mb(services.length)} (${megabyteServices.toLocaleString('en-US')} services)`,
          ms(medianOf(endToEnd.get('1 MB')!)),
        ],
      ],
      ['l', 'l', 'r'],
    ),
    '',
  )
}

export const definition: BenchDefinition<Args> = {
  name: 'config-load',
  title: 'Issue 11: configuration parsing',
  summary:
    'issue 11: configuration parsing time against file size (three shapes, up to 4 MB) against the loader it replaced, a line-precise error in a 1 MB file, `config validate` end to end on 1 MB (no root, no services)',
  cli: true,
  options: {
    runs: { type: 'string', value: 'N', default: '5', help: 'timed parses (and CLI runs) of each, after one warm-up' },
    'before-max': { type: 'string', value: 'MB', default: '2', help: 'largest file the old parser gets (it takes many seconds past that)' },
  },
  parse(values) {
    const beforeMax = Number(text(values, 'before-max'))
    if (!(beforeMax >= 0)) throw new UsageError(`--before-max must be a number of MB ≥ 0, not "${text(values, 'before-max')}"`)
    return { runs: integer(values, 'runs'), beforeMaxBytes: beforeMax * 1_000_000 }
  },
  run,
}

runIfMain(import.meta, definition)
