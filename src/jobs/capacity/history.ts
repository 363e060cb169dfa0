import type { Config } from '../../config/load.js'
import { DAY_MS, type Point } from '../../lib/forecast.js'
import { readReportHistory } from '../../report/history.js'
import type { Report, StepResult } from '../../report/model.js'
import { CAPACITY_HISTORY, type CapacityHistory } from './facts.js'

/**
 * The series the forecasts fit their lines through (CapacityHistory), read from the capacity
 * reports saved in the reports directory: database and table sizes, disk usage per mount, the
 * backup directory's size and Redis memory. A step that failed or was skipped that day adds no point.
 */

function measured(report: Report, id: string): Record<string, unknown> | undefined {
  const step: StepResult | undefined = report.steps.find((s) => s.id === id)
  return step && (step.status === 'ok' || step.status === 'warning') && step.data ? step.data : undefined
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined)

function push<K>(map: Map<K, Point[]>, key: K, point: Point): void {
  const list = map.get(key)
  if (list) list.push(point)
  else map.set(key, [point])
}

export async function readCapacityHistory(config: Readonly<Config>, now: Date, days: number): Promise<CapacityHistory> {
  const empty: CapacityHistory = {
    dir: config.reports.dir || null,
    reports: 0,
    unreadable: [],
    databaseBytes: [],
    tableBytes: new Map(),
    diskUsed: new Map(),
    backupBytes: [],
    redisUsedBytes: [],
  }
  if (!config.reports.dir) return empty
  const { reports, unreadable } = await readReportHistory(config.reports.dir, CAPACITY_HISTORY, { since: now.getTime() - days * DAY_MS, excludeDay: now })
  const history = { ...empty, reports: reports.length, unreadable }
  for (const report of reports) {
    const at = Date.parse(report.startedAt)
    const database = measured(report, 'database')
    const bytes = num(database?.databaseBytes)
    if (bytes !== undefined) history.databaseBytes.push({ at, value: bytes })
    if (Array.isArray(database?.tables)) {
      for (const t of database.tables as { name?: unknown; totalBytes?: unknown }[]) {
        const size = num(t.totalBytes)
        if (typeof t.name === 'string' && size !== undefined) push(history.tableBytes, t.name, { at, value: size })
      }
    }
    const disk = measured(report, 'disk')
    if (Array.isArray(disk?.disks)) {
      for (const d of disk.disks as { mount?: unknown; usedBytes?: unknown }[]) {
        const used = num(d.usedBytes)
        if (typeof d.mount === 'string' && used !== undefined) push(history.diskUsed, d.mount, { at, value: used })
      }
    }
    const backups = num((disk?.backups as { bytes?: unknown } | undefined)?.bytes)
    if (backups !== undefined) history.backupBytes.push({ at, value: backups })
    const redis = num(measured(report, 'redis')?.usedMemoryBytes)
    if (redis !== undefined) history.redisUsedBytes.push({ at, value: redis })
  }
  return history
}
