import type { Config } from '../../config/load.js'
import { formatSeconds } from '../../errors.js'
import { formatSpan } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'

/** The figures of a restore test (design-14 §7.3), and how they are rated and said: pure. */

/** What a passed restore test measured, whatever its kind. */
export interface RestoreFigures {
  rtoMs: number
  /** The newest moment the restore gave back, when known (a dump's start; the last transaction replayed). */
  recoveredTo?: Date
  /** A later moment the data is known to reach (the newest WAL segment replayed was archived then). */
  reaches?: Date
  /** The earliest the data can reach: what the rest falls back on (a dump's start; a base's consistency). */
  floor: Date
}

/** Seconds from `startedAt` back to the newest moment the restored data reaches. */
export function rpoSeconds(figures: RestoreFigures, startedAt: Date): number {
  const newest = Math.max(...[figures.recoveredTo, figures.reaches, figures.floor].filter((d) => d !== undefined).map((d) => d.getTime()))
  return Math.max(0, (startedAt.getTime() - newest) / 1000)
}

export type Objectives = Config['backup']['objectives']

/** Above backup.objectives: medium, so that `--fail-on warning` in the weekly cron line mails. */
export function objectiveFindings(rtoSeconds: number, rpo: number, objectives: Objectives): Finding[] {
  const findings: Finding[] = []
  if (objectives.rtoSeconds !== undefined && rtoSeconds > objectives.rtoSeconds)
    findings.push({
      id: 'rto-above-objective',
      severity: 'medium',
      message: `the restore took ${formatSpan(rtoSeconds)}, more than backup.objectives.rtoSeconds (${formatSpan(objectives.rtoSeconds)})`,
      fix: 'a physical restore (backup base, with WAL archiving) is faster than a dump; otherwise a faster disk, or an objective the platform can meet',
    })
  if (objectives.rpoSeconds !== undefined && rpo > objectives.rpoSeconds)
    findings.push({
      id: 'rpo-above-objective',
      severity: 'medium',
      message: `a loss at the start of the test would have lost ${formatSpan(rpo)} of data, more than backup.objectives.rpoSeconds (${formatSpan(objectives.rpoSeconds)})`,
      fix: 'back up more often, or archive WAL (probe-ops backup wal-setup --apply, backup.wal.archiveTimeoutSeconds) and rehearse a base backup (backup verify latest-base --restore-test)',
    })
  return findings
}

/** "restored in 12.3 s; a loss now would lose 6 h 10 min of data": the line a rehearsal is read by; `from`: " from offsite". */
export function describeFigures(rtoMs: number, rpo: number, from = ''): string {
  return `restored in ${formatSeconds(rtoMs)}${from}; a loss now would lose ${formatSpan(rpo)} of data`
}
