import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { lineTime, logEntries, timedLines, withinWindow, type Level, type LogLine } from '../../src/logs/entries.js'
import { messageKey, summarizeLines } from '../../src/logs/errors.js'
import { stampedLine } from '../../src/systems/docker.js'
import { journalLine } from '../../src/systems/journal.js'

const CORPUS = join(import.meta.dirname, '../fixtures/logs')

interface Corpus {
  name: string
  lines: LogLine[]
  /** The file's line number of each line given to the classifier (blank lines are dropped, as every source drops them). */
  numbers: number[]
  expected: Map<number, Level>
}

function readCorpus(name: string): Corpus {
  const lines: LogLine[] = []
  const numbers: number[] = []
  readFileSync(join(CORPUS, `${name}.log`), 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (!text) return
      lines.push({ text, at: lineTime(text) })
      numbers.push(index + 1)
    })
  const expected = new Map<number, Level>()
  for (const row of readFileSync(join(CORPUS, `${name}.expected`), 'utf8').split('\n')) {
    if (!row.trim() || row.startsWith('#')) continue
    const [line, verdict] = row.trim().split(/\s+/)
    expected.set(Number(line), verdict as Level)
  }
  return { name, lines, numbers, expected }
}

/** Each entry of the corpus by its first line's number in the file, with the verdict given. */
function verdicts(corpus: Corpus): Map<number, Level> {
  const found = new Map<number, Level>()
  let offset = 0
  for (const entry of logEntries(corpus.lines)) {
    found.set(corpus.numbers[offset]!, entry.orphan ? 'other' : entry.level)
    offset += entry.lines.length
  }
  return found
}

const corpora = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.log'))
  .map((f) => readCorpus(f.replace(/\.log$/, '')))

describe('log entries by the log’s own structure: the corpus', () => {
  it('has a corpus of each kind the platform writes', () => {
    expect(corpora.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'uvicorn-text',
        'uvicorn-json',
        'gunicorn',
        'pino',
        'postgres-default-prefix',
        'postgres-pgbadger-prefix',
        'postgres-user-db-prefix',
        'postgres-angle-prefix-verbose',
        'redis',
        'nginx-error',
        'nginx-access',
        'python-tracebacks',
        'plain-text',
      ]),
    )
  })

  for (const corpus of corpora) {
    it(`${corpus.name}: the same entries, each with its verdict`, () => {
      // Continuation lines never start an entry of their own: the entries begin where expected.
      expect([...verdicts(corpus)]).toEqual([...corpus.expected])
    })
  }

  it('finds every error of the corpus and nothing else: precision and recall 100 %', () => {
    let truePositive = 0
    let falsePositive = 0
    let falseNegative = 0
    const wrong: string[] = []
    for (const corpus of corpora) {
      const found = verdicts(corpus)
      for (const line of new Set([...found.keys(), ...corpus.expected.keys()])) {
        const said = found.get(line) === 'error'
        const truth = corpus.expected.get(line) === 'error'
        if (said && truth) truePositive++
        if (said && !truth) falsePositive++
        if (!said && truth) falseNegative++
        if (said !== truth) wrong.push(`${corpus.name}.log:${line} ${said ? 'counted' : 'missed'}`)
      }
    }
    const precision = truePositive / (truePositive + falsePositive)
    const recall = truePositive / (truePositive + falseNegative)
    expect(wrong).toEqual([])
    expect({ precision, recall }).toEqual({ precision: 1, recall: 1 })
    expect(truePositive).toBeGreaterThan(40)
  })

  it('reads the issue’s false alarms as they are', () => {
    const [uvicorn] = logEntries([{ text: '{"level": "INFO", "module": "uvicorn.error", "message": "Started server process"}' }])
    expect(uvicorn!.level).toBe('other')
    const statement = logEntries(timedLines(['2026-11-25 10:00:00.123 UTC [42] LOG:  statement: SELECT 1', "\tWHERE status = 'error'"]))
    expect(statement).toHaveLength(1)
    expect(statement[0]).toMatchObject({ level: 'other', lines: ['2026-11-25 10:00:00.123 UTC [42] LOG:  statement: SELECT 1', "\tWHERE status = 'error'"] })
  })
})

describe('errors grouped by message', () => {
  it('reads 300 copies of one failure as one group with a count and the newest time', () => {
    const start = Date.parse('2026-11-25T10:00:00Z')
    const lines: LogLine[] = []
    for (let i = 0; i < 300; i++) {
      const at = start + i * 1000
      lines.push({
        text: JSON.stringify({
          timestamp: new Date(at).toISOString(),
          level: 'ERROR',
          module: 'app.db',
          message: `database pool exhausted (waited ${30 + (i % 7)}.0 s, request ${(0xabc000 + i).toString(16)}ef12)`,
        }),
        at,
      })
      if (i % 100 === 0) lines.push({ text: JSON.stringify({ level: 'INFO', module: 'uvicorn.error', message: 'Started server process' }), at })
    }
    lines.push({ text: `2026-11-25 10:06:00.000 UTC [${4000}] ERROR:  relation "task_result" does not exist at character 15`, at: start + 360_000 })
    lines.push({ text: '2026-11-25 10:06:00.000 UTC [4000] STATEMENT:  SELECT * FROM task_result', at: start + 360_000 })
    lines.push({ text: `2026-11-25 10:06:01.000 UTC [${4001}] ERROR:  relation "task_result" does not exist at character 15`, at: start + 361_000 })
    lines.push({ text: '2026-11-25 10:06:01.000 UTC [4001] STATEMENT:  SELECT * FROM task_result', at: start + 361_000 })

    const summary = summarizeLines(lines)
    expect(summary.errors).toBe(302)
    expect(summary.groups).toHaveLength(2)
    expect(summary.groups.map((g) => g.count)).toEqual([2, 300])
    expect(summary.groups[0]).toMatchObject({
      newestAt: start + 361_000,
      lines: [expect.stringContaining('[4001] ERROR:'), expect.stringContaining('STATEMENT:')],
    })
    expect(summary.groups[1]!.newestAt).toBe(start + 299_000)
    expect(summary.groups[1]!.first).toContain('"timestamp":"2026-11-25T10:04:59.000Z"')
  })

  it('keeps different exceptions under one logged line apart, and joins identical tracebacks', () => {
    const traceback = (error: string) => [
      'ERROR:    Exception in ASGI application',
      'Traceback (most recent call last):',
      '  File "/app/api.py", line 3, in handler',
      '    run()',
      error,
    ]
    const summary = summarizeLines(timedLines([...traceback('KeyError: 1'), ...traceback('KeyError: 2'), ...traceback('TimeoutError: timed out')]))
    expect(summary.errors).toBe(3)
    expect(summary.groups.map((g) => [g.count, g.lines.at(-1)])).toEqual([
      [1, 'TimeoutError: timed out'],
      [2, 'KeyError: 2'],
    ])
  })

  it('normalises numbers, ids and times', () => {
    expect(messageKey('request 5f0c4a1e-8d2b-4c3e-9f10-0a1b2c3d4e5f failed after 30.5 s on 0x7f3a2b1c')).toBe('request <id> failed after # s on <id>')
    expect(messageKey('container 3f2a91bc44e0 exited (137)')).toBe('container <id> exited (#)')
    // Words made of hex letters alone are words.
    expect(messageKey('deadbeefcafe is not an id')).toBe('deadbeefcafe is not an id')
  })

  it('counts warnings apart, and never a continuation whose entry came before the lines read', () => {
    const summary = summarizeLines(
      timedLines([
        '\tWHERE error IS NOT NULL',
        '2026-11-25 10:00:00.000 UTC [1] STATEMENT:  SELECT error',
        '1:M 25 Nov 2026 10:05:06.300 # Background saving error',
      ]),
    )
    expect(summary).toMatchObject({ errors: 0, warnings: 1, groups: [] })
  })
})

describe('log times and the window', () => {
  const now = Date.parse('2026-11-25T12:00:00Z')

  it('reads the time of the log formats the platform writes', () => {
    expect(lineTime('2026-11-25T11:30:00.123Z ERROR boom')).toBe(Date.parse('2026-11-25T11:30:00.123Z'))
    expect(lineTime('2026-11-25 11:30:00.123 UTC [42] ERROR:  deadlock detected')).toBe(Date.parse('2026-11-25T11:30:00.123Z'))
    expect(lineTime('[2026-11-25 10:00:31 +0000] [1] [CRITICAL] WORKER TIMEOUT (pid:7)')).toBe(Date.parse('2026-11-25T10:00:31Z'))
    expect(lineTime('2026-11-25 10:00:05,002 ERROR worker: result upload failed')).toBe(new Date(2026, 10, 25, 10, 0, 5, 2).getTime())
    expect(lineTime('{"timestamp":"2026-11-25T09:00:00Z","level":"error","message":"x"}')).toBe(Date.parse('2026-11-25T09:00:00Z'))
    expect(lineTime('{"ts":1795600000,"msg":"x"}')).toBe(1795600000000)
    expect(lineTime('1234:M 25 Nov 2026 11:45:00.906 * Ready to accept connections')).toBe(new Date(2026, 10, 25, 11, 45, 0).getTime())
    expect(lineTime('2026/11/25 10:01:12 [error] 29#29: *1 connect() failed')).toBe(new Date(2026, 10, 25, 10, 1, 12).getTime())
    expect(lineTime('Traceback (most recent call last):')).toBeUndefined()
  })

  it('keeps the lines of the window; a line without a time goes with the timed line above it', () => {
    const lines = timedLines([
      '2026-11-25T09:00:00Z ERROR old',
      'Traceback (most recent call last):',
      '2026-11-25T11:30:00Z ERROR new',
      'ERROR no time',
      '{"timestamp":"2026-11-24T00:00:00Z","level":"error"}',
    ])
    expect(withinWindow(lines, 3_600_000, now).map((l) => l.text)).toEqual(['2026-11-25T11:30:00Z ERROR new', 'ERROR no time'])
    expect(withinWindow(timedLines(['no time yet', '2026-11-25T11:30:00Z x']), 3_600_000, now)).toHaveLength(2)
  })
})

describe('lines as the sources stamp them', () => {
  it("takes Docker's timestamp off each line, and journalctl's prefix", () => {
    expect(stampedLine('2026-11-25T10:00:00.123456789Z Traceback (most recent call last):')).toEqual({
      text: 'Traceback (most recent call last):',
      at: Date.parse('2026-11-25T10:00:00.123Z'),
    })
    expect(stampedLine('2026-11-25T10:00:00.000000000Z \tWHERE error = 1')).toEqual({ text: '\tWHERE error = 1', at: Date.parse('2026-11-25T10:00:00Z') })
    expect(stampedLine('no stamp here')).toEqual({ text: 'no stamp here' })
    expect(journalLine('2026-11-25T10:00:01+0000 probe-01 network-probe-agent[812]: {"level": "ERROR", "message": "x"}')).toEqual({
      text: '{"level": "ERROR", "message": "x"}',
      at: Date.parse('2026-11-25T10:00:01Z'),
    })
    expect(journalLine('2026-11-25T11:00:01+01:00 probe-01 postgres[90]: 2026-11-25 10:00:01.000 UTC [90] ERROR:  boom')).toEqual({
      text: '2026-11-25 10:00:01.000 UTC [90] ERROR:  boom',
      at: Date.parse('2026-11-25T10:00:01Z'),
    })
  })
})
