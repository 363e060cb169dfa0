/**
 * Configuration parsing time against file size (issue 11 item 8): the loader of probe-ops (YAML
 * events, schema, resolution) against what it replaced (the yaml package's document API with
 * uniqueKeys, which compared every key of a mapping with every other), on generated files of
 * growing size and three shapes; then `probe-ops config validate` end to end (spawn to exit) on a
 * file of about 1 MB, the size the target names, and on an empty one.
 *
 *   node --import tsx bench/config-load.ts [--runs 5] [--before-max 2]
 *
 * In-process figures are the median of --runs parses after one warm-up; the old parser is run up
 * to --before-max MB (it takes many seconds past that). Prints markdown on stdout, progress on
 * stderr; writes only into a temporary directory, removed at the end. Runs the built CLI (dist/):
 * `npm run build` first.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LineCounter, parseDocument } from 'yaml'
import { parseConfigText, resolveConfig } from '../src/config/load.js'
import { configSchema } from '../src/config/schema.js'
import { code, table } from './lib/markdown.js'
import { median, ms } from './lib/stats.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const log = (line: string): void => void process.stderr.write(`[config-load] ${line}\n`)

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'before-max': { type: 'string', default: '2' } } })
const runs = Number(args.runs)
const beforeMaxBytes = Number(args['before-max']) * 1_000_000
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

function timeIt(work: () => void): number {
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
const sections: string[] = []
const machine = `nproc ${os.cpus().length}, ${os.cpus()[0]?.model ?? '?'}; Node ${process.version}; load average ${os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')} at the start`

for (const [shape, make] of Object.entries(SHAPES)) {
  const rows: string[][] = []
  for (const bytes of SIZES) {
    const { n, text } = sized(make, bytes)
    log(`${shape}: ${n} (${mb(text.length)})`)
    const now = timeIt(() => parseNow(text))
    const before = bytes <= beforeMaxBytes ? timeIt(() => parseBefore(text)) : undefined
    rows.push([
      String(n),
      mb(text.length),
      ms(now),
      `${((now * 1000) / text.length).toFixed(2)} µs`,
      before === undefined ? '-' : ms(before),
      before === undefined ? '-' : `${(before / now).toFixed(1)}×`,
    ])
  }
  sections.push(`#### ${shape}\n\n${table(['entries', 'size', 'now', 'now per byte', 'before', 'before / now'], rows, ['r', 'r', 'r', 'r', 'r', 'r'])}`)
}

// The error path: a line-precise error at the end of a 1 MB file (the event walk that finds the line).
// 1 MB: the size the target names (the loader refuses files past 1 MiB).
const { n: megabyteServices, text: services } = sized(SHAPES['services (block)']!, 1_000_000)
const typo = `${services}  last:\n    untis: typo\n`
let errorLine = ''
const errorMs = timeIt(() => {
  try {
    parseNow(typo)
  } catch (error) {
    errorLine = (error as Error).message
  }
})

// End to end: the built CLI, spawn to exit.
const work = mkdtempSync(path.join(os.tmpdir(), 'po-bench-config-'))
try {
  const big = path.join(work, 'big.yaml')
  const empty = path.join(work, 'empty.yaml')
  writeFileSync(big, services)
  writeFileSync(empty, '')
  const cli = (file: string) =>
    timeIt(() => {
      execFileSync(process.execPath, [path.join(ROOT, 'bin/run.js'), 'config', 'validate', '--config', file], {
        stdio: 'ignore',
        env: { ...process.env, NODE_ENV: 'production' },
      })
    })
  log('config validate end to end')
  const endToEnd = [
    [code('probe-ops config validate'), 'empty file', ms(cli(empty))],
    [code('probe-ops config validate'), `${mb(services.length)} (${megabyteServices.toLocaleString('en-US')} services)`, ms(cli(big))],
  ]
  process.stdout.write(
    [
      '## Issue 11: configuration parsing',
      '',
      `- Command: ${code('node --import tsx bench/config-load.ts')} (runs ${runs})`,
      `- Date: ${new Date().toISOString()}`,
      `- Machine: ${machine}, ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at the end`,
      '- Method: in process, the median of the runs after one warm-up: "now" is parseConfigText + resolveConfig (js-yaml events, the zod schema, resolution); "before" is the loader it replaced (yaml parseDocument with uniqueKeys, toJS, the same schema). End to end: the built CLI, spawn to exit.',
      '',
      ...sections.flatMap((s) => [s, '']),
      `A line-precise error at the end of the ${mb(typo.length)} file: ${ms(errorMs)} (${code(errorLine)}).`,
      '',
      table(['command', 'file', 'median'], endToEnd, ['l', 'l', 'r']),
      '',
    ].join('\n'),
  )
} finally {
  rmSync(work, { recursive: true, force: true })
}
