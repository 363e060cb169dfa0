import { describeError } from '../../errors.js'
import { formatSize } from '../../lib/format.js'
import type { StepDefinition, StepOutcome, StepRun } from '../../report/outcome.js'
import { filesOpenForWriting, findOldFiles, removeFile, type Candidate, type FileRule } from '../../systems/files.js'
import type { MaintenanceContext } from './context.js'
import type { CleanData } from './data.js'

/**
 * Old log and temp files by the configured rules: the guide's `find -mtime -delete`, without
 * following symlinks out of the directory and without deleting a file a process still writes.
 */
async function cleanFiles(rules: readonly FileRule[], now: Date, run: StepRun): Promise<StepOutcome<CleanData>> {
  const found: { rule: FileRule; files: Candidate[]; missing: boolean }[] = []
  for (const rule of rules) found.push({ rule, ...(await findOldFiles(rule, now.getTime())) })
  const all = found.flatMap((f) => f.files)
  const busy = await filesOpenForWriting(new Set(all.map((f) => f.path)))
  const removable = all.filter((f) => !busy.has(f.path))
  const bytes = removable.reduce((sum, f) => sum + f.bytes, 0)
  const perRule = found.map((f) => ({
    path: f.rule.path,
    pattern: f.rule.pattern,
    olderThanDays: f.rule.olderThanDays,
    missing: f.missing,
    files: f.files.filter((c) => !busy.has(c.path)).length,
  }))
  const keptOpen = [...busy]
  if (run.dryRun) {
    return {
      summary: `would delete ${removable.length} files, ${formatSize(bytes)}${keptOpen.length ? `; ${keptOpen.length} kept (open for writing)` : ''}`,
      data: { files: removable.length, bytes, rules: perRule, keptOpen, wouldDelete: removable.slice(0, 100).map((f) => f.path) },
    }
  }
  let deleted = 0
  let freed = 0
  const errors: string[] = []
  for (const file of removable) {
    try {
      if (await removeFile(file.path)) {
        deleted++
        freed += file.bytes
      }
    } catch (error) {
      errors.push(`${file.path}: ${describeError(error)}`)
    }
  }
  const summary = `deleted ${deleted} files, ${formatSize(freed)} freed${keptOpen.length ? `; ${keptOpen.length} kept (open for writing)` : ''}`
  const data = { files: deleted, bytes: freed, rules: perRule, keptOpen, errors: errors.slice(0, 20) }
  if (errors.length === 0) return { summary, data }
  return {
    summary: `${summary}; ${errors.length} could not be deleted`,
    findings: [
      {
        id: 'files-not-deleted',
        severity: 'medium',
        message: errors.length === 1 ? errors[0]! : `${errors[0]} (and ${errors.length - 1} more)`,
        fix: 'check the permissions of those files',
      },
    ],
    data,
  }
}

export const cleanLogs: StepDefinition<MaintenanceContext, CleanData> = {
  run: ({ config, startedAt }, run) => cleanFiles(config.cleanup.logs, startedAt, run),
}

export const cleanTemp: StepDefinition<MaintenanceContext, CleanData> = {
  run: ({ config, startedAt }, run) => cleanFiles(config.cleanup.temp, startedAt, run),
}
