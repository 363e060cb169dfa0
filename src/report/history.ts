import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../lib/files.js'
import { readRegularFile } from '../lib/regular-file.js'
import { overallStatus, type Report } from './model.js'

/**
 * Reports kept as history in the reports directory, one file per kind and day
 * (`capacity-2026-11-25.json`): dashboards read them, and the next capacity forecast fits its
 * growth lines through them. A later run the same day replaces the day's file; steps it did
 * not run (--only/--skip) keep what the earlier run found.
 */

const NAME = /^([a-z][a-z0-9-]*)-(\d{4}-\d{2}-\d{2})\.json$/

/** The day of a run in the machine's own time zone, as operators name days: 2026-11-25. */
export function localDay(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`
}

export function historyFileName(kind: string, at: Date): string {
  return `${kind}-${localDay(at)}.json`
}

/** A saved report is kilobytes (capacity-report with every table: tens of them). */
const MAX_REPORT_BYTES = 64 * 1024 * 1024

async function readReport(path: string): Promise<Report | undefined> {
  try {
    const parsed = JSON.parse((await readRegularFile(path, MAX_REPORT_BYTES, 'saved report')).toString('utf8')) as Partial<Report>
    if (parsed && parsed.schemaVersion === 1 && typeof parsed.startedAt === 'string' && Array.isArray(parsed.steps)) return parsed as Report
  } catch {
    // an unreadable or half-edited file is no history
  }
  return undefined
}

/** Writes the report as the day's file of `kind`, atomically; returns its path. */
export async function saveReportHistory(dir: string, kind: string, report: Report): Promise<string> {
  const path = join(dir, historyFileName(kind, new Date(report.startedAt)))
  const earlier = await readReport(path)
  let kept = report
  if (earlier) {
    const before = new Map(earlier.steps.map((s) => [s.id, s]))
    const steps = report.steps.map((s) => {
      const old = before.get(s.id)
      return s.status === 'skipped' && old && old.status !== 'skipped' ? old : s
    })
    kept = { ...report, steps, status: overallStatus(steps) }
  }
  await writeFileAtomic(path, `${JSON.stringify(kept, null, 2)}\n`, 0o640)
  return path
}

export interface History {
  /** Oldest first. */
  reports: Report[]
  /** Files of that kind that could not be read as reports. */
  unreadable: string[]
}

/**
 * The saved reports of `kind` that started at or after `since` (epoch ms), oldest first,
 * leaving out the day of `excludeDay` (the run being made replaces that day's file). A
 * missing directory is an empty history.
 */
export async function readReportHistory(dir: string, kind: string, options: { since: number; excludeDay?: Date }): Promise<History> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return { reports: [], unreadable: [] }
  }
  const skipName = options.excludeDay ? historyFileName(kind, options.excludeDay) : undefined
  const sinceDay = localDay(new Date(options.since - 86_400_000))
  const reports: Report[] = []
  const unreadable: string[] = []
  for (const name of names.sort()) {
    const match = NAME.exec(name)
    if (!match || match[1] !== kind || name === skipName || match[2]! < sinceDay) continue
    const report = await readReport(join(dir, name))
    if (!report) {
      unreadable.push(name)
      continue
    }
    const at = Date.parse(report.startedAt)
    if (Number.isFinite(at) && at >= options.since) reports.push(report)
  }
  reports.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))
  return { reports, unreadable }
}
