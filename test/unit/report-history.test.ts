import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import { historyFileName, localDay, readReportHistory, saveReportHistory } from '../../src/report/history.js'
import { tempDir } from '../helpers/temp.js'

const DAY = 86_400_000

function report(startedAt: Date, steps: Array<Partial<StepResult> & { id: string }>): Report {
  return {
    schemaVersion: 1,
    command: 'capacity-report',
    version: '0.0.0',
    host: 'test',
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    durationMs: 0,
    status: 'ok',
    dryRun: false,
    steps: steps.map((s) => ({ title: s.id, status: 'ok', durationMs: 0, summary: '', ...s })),
    alerts: [],
  }
}

describe('report history', () => {
  it('keeps one file per kind and local day, written whole and not world-readable', async () => {
    const dir = join(tempDir('history'), 'reports')
    const at = new Date()
    const path = await saveReportHistory(dir, 'capacity', report(at, [{ id: 'database', data: { databaseBytes: 1 } }]))
    expect(path).toBe(join(dir, `capacity-${localDay(at)}.json`))
    expect(historyFileName('performance', at)).toBe(`performance-${localDay(at)}.json`)
    expect(JSON.parse(readFileSync(path, 'utf8')).steps[0].data).toEqual({ databaseBytes: 1 })
    expect(statSync(path).mode & 0o007).toBe(0)
    expect(readdirSync(dir)).toEqual([`capacity-${localDay(at)}.json`])
  })

  it('lets a later run the same day replace the file, keeping the steps it skipped', async () => {
    const dir = tempDir('history')
    const at = new Date()
    await saveReportHistory(
      dir,
      'capacity',
      report(at, [
        { id: 'database', data: { databaseBytes: 1 } },
        { id: 'redis', status: 'warning', data: { usedMemoryBytes: 5 } },
      ]),
    )
    await saveReportHistory(
      dir,
      'capacity',
      report(new Date(at.getTime() + 1000), [
        { id: 'database', status: 'skipped', summary: 'not chosen by --only' },
        { id: 'redis', data: { usedMemoryBytes: 7 } },
      ]),
    )
    const kept = JSON.parse(readFileSync(join(dir, historyFileName('capacity', at)), 'utf8')) as Report
    expect(kept.steps.map((s) => [s.id, s.status, s.data])).toEqual([
      ['database', 'ok', { databaseBytes: 1 }],
      ['redis', 'ok', { usedMemoryBytes: 7 }],
    ])
  })

  it('reads the window oldest first, without the excluded day, other kinds or unreadable files', async () => {
    const dir = tempDir('history')
    const now = new Date()
    for (const daysAgo of [40, 20, 10, 1, 0]) await saveReportHistory(dir, 'capacity', report(new Date(now.getTime() - daysAgo * DAY), [{ id: 'disk' }]))
    await saveReportHistory(dir, 'performance', report(new Date(now.getTime() - 2 * DAY), [{ id: 'cache' }]))
    writeFileSync(join(dir, `capacity-${localDay(new Date(now.getTime() - 5 * DAY))}.json`), '{ not json')
    writeFileSync(join(dir, 'notes.txt'), 'hello')
    const history = await readReportHistory(dir, 'capacity', { since: now.getTime() - 30 * DAY, excludeDay: now })
    expect(history.reports.map((r) => Math.round((now.getTime() - Date.parse(r.startedAt)) / DAY))).toEqual([20, 10, 1])
    expect(history.unreadable).toEqual([`capacity-${localDay(new Date(now.getTime() - 5 * DAY))}.json`])
  })

  it('is empty for a directory that does not exist', async () => {
    expect(await readReportHistory(join(tempDir('history'), 'missing'), 'capacity', { since: 0 })).toEqual({ reports: [], unreadable: [] })
  })
})
