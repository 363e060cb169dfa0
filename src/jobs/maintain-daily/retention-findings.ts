/**
 * What retention did to each rule's table, in words and rated: a rule that failed fails the step;
 * a drop left for the next run, a detach someone else left pending, or a run stopped before the
 * end is a warning with what to do; a look-alike of an old detached partition is worth a look.
 */

import { formatCount, formatSize } from '../../lib/format.js'
import type { Finding } from '../../report/outcome.js'
import type { RuleResult } from './data.js'
import type { RetentionRule } from './retention-plan.js'

/** The table's name without its schema: what look-alike partitions are matched on. */
function bareName(table: string): string {
  return table.split('.').pop()!
}

/** A rule's account before anything is done: what a failure part way still reports. */
export function emptyRuleResult(rule: RetentionRule, cutoff: Date): RuleResult {
  return {
    table: rule.table,
    column: rule.column,
    cutoff: cutoff.toISOString(),
    deleted: 0,
    batches: 0,
    longestBatchMs: 0,
    largestBatchRows: 0,
    retriedBatches: 0,
    partitionsDropped: [],
    partitionRowsDropped: 0,
    partitionBytesDropped: 0,
    partitionsLeftAttached: [],
    pendingDetachLeftAlone: [],
    unmarkedDetachedTables: [],
    reusableBytes: 0,
  }
}

/** "task_results: deleted 1,204 rows in 3 batches, dropped 29 partitions (...)": one rule's account. */
export function ruleSummary(r: RuleResult): string {
  let text = `${r.table}: deleted ${formatCount(r.deleted)} rows in ${r.batches} batches`
  if (r.partitionsDropped.length)
    text += `, dropped ${r.partitionsDropped.length} partitions (~${formatCount(r.partitionRowsDropped)} rows, ${formatSize(r.partitionBytesDropped)})`
  if (r.deleted) text += ` (longest ${r.longestBatchMs} ms, ~${formatSize(r.reusableBytes)} reusable after vacuum)`
  if (r.blockedDrop) text += `, ${r.blockedDrop.partition} left ${r.blockedDrop.stage} (${r.blockedDrop.lockedTable} locked)`
  if (r.error) text += ` (failed: ${r.error})`
  return text
}

/** What a dry run would do to one rule's table. */
export function planSummary(r: RuleResult): string {
  const partitions = r.wouldDropPartitions?.length ? ` and drop ${r.wouldDropPartitions.length} partitions` : ''
  return `${r.table}: would delete ${formatCount(r.wouldDelete ?? 0)} rows older than ${r.cutoff.slice(0, 10)}${partitions}`
}

function blockedDropFinding(r: RuleResult, b: NonNullable<RuleResult['blockedDrop']>): Finding {
  const holders = b.holders.length
    ? b.holders
        .map(
          (h) =>
            `pid ${h.pid}${h.application ? ` (${h.application})` : ''}${h.state ? `, ${h.state}` : ''}${h.transactionSeconds !== null ? `, in a transaction for ${h.transactionSeconds} s` : ''}`,
        )
        .join('; ')
    : 'a session that has ended since'
  const left = r.partitionsLeftAttached.length ? `; ${r.partitionsLeftAttached.length} more expired partitions stay attached` : ''
  const state =
    b.stage === 'detach pending' ? 'left detach pending (its DETACH waited too long for transactions that have the table open)' : 'detached but not dropped'
  return {
    id: `partition-drop-blocked:${b.partition}`,
    severity: 'medium',
    subject: r.table,
    message: `retention of ${r.table}: partition ${b.partition} is ${state}: ${b.lockedTable} stayed locked by ${holders} through ${b.attempts} attempts over ${(b.waitedMs / 1000).toFixed(1)} s${left}`,
    fix: `nothing is lost: ${b.partition} keeps its rows, marked '${r.detachedMark}', and the next run ${b.stage === 'detach pending' ? 'finalizes the detach and drops it' : 'drops it'}${left ? ' and detaches the rest' : ''}; a long transaction or pg_dump holding ${b.lockedTable} is the usual cause (see pg_locks where relation = '${b.lockedTable}'::regclass)`,
  }
}

/** One rule's findings; `hint` is what to do about its failure, when it failed. */
export function ruleFindings(r: RuleResult, hint?: string): Finding[] {
  const findings: Finding[] = []
  if (r.error) findings.push({ id: `retention-failed:${r.table}`, severity: 'high', subject: r.table, message: r.error, ...(hint ? { fix: hint } : {}) })
  if (r.blockedDrop) findings.push(blockedDropFinding(r, r.blockedDrop))
  const pending = r.pendingDetachLeftAlone
  if (pending.length)
    findings.push({
      id: `foreign-detach-pending:${r.table}`,
      severity: 'medium',
      subject: r.table,
      message: `retention of ${r.table}: ${pending.join(', ')} ${pending.length === 1 ? 'is' : 'are'} left "detach pending" by a DETACH ... CONCURRENTLY that retention did not run (unmarked, a default partition, or not older than the cutoff): not finished, not dropped`,
      fix: `whoever started it decides: alter table ${r.table} detach partition ${pending[0]} finalize completes the detach (the table and its rows stay); until then retention detaches without CONCURRENTLY`,
    })
  const lookAlikes = r.unmarkedDetachedTables
  if (lookAlikes.length) {
    const one = lookAlikes.length === 1
    findings.push({
      id: `unmarked-detached:${r.table}`,
      severity: 'low',
      subject: r.table,
      message: `retention of ${r.table}: ${lookAlikes.join(', ')} ${one ? 'looks like a partition' : 'look like partitions'} an older probe-ops detached and never dropped (the same columns, only rows older than the cutoff, attached to nothing)`,
      fix: `if so, mark ${one ? 'it' : 'each'} and the next run drops ${one ? 'it' : 'them'}: comment on table ${lookAlikes[0]} is '${r.detachedMark}'; a table kept on purpose needs a name that does not start with "${bareName(r.table)}_"`,
    })
  }
  if (r.stoppedBy)
    findings.push({
      id: `retention-unfinished:${r.table}`,
      severity: 'medium',
      subject: r.table,
      message: `retention of ${r.table} stopped by the ${r.stoppedBy === 'budget' ? 'time budget' : 'job timeout'} before it finished`,
      fix: 'the next run continues where this one stopped; raise retention.budgetSeconds to finish in one run',
    })
  return findings
}
