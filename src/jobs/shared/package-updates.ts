import type { Finding, StepDefinition } from '../../report/outcome.js'
import { aptUpdates, type AptUpdates } from '../../systems/packages.js'
import type { PackageUpdatesData } from './data.js'

/** apt's lists older than this may hide pending security updates. */
const STALE_LISTS_DAYS = 7

/**
 * Pending updates as findings: the security ones as one medium finding (its id stays while the
 * list changes), the others as a fact, and package lists too old to know of the newest updates
 * (rated `staleLists`).
 */
export function updateFindings(updates: AptUpdates, staleLists: 'low' | 'info' = 'low'): Finding[] {
  const findings: Finding[] = []
  const security = updates.packages.filter((u) => u.security)
  if (security.length > 0) {
    const names = security.map((p) => p.name)
    findings.push({
      id: 'security-updates:pending',
      severity: 'medium',
      message: `${security.length} security update${security.length === 1 ? '' : 's'} pending: ${names.slice(0, 12).join(', ')}${names.length > 12 ? `, and ${names.length - 12} more` : ''}`,
      fix: 'apt-get update && apt-get upgrade (or enable unattended-upgrades); `apt list --upgradable` lists them',
    })
  }
  const others = updates.packages.filter((u) => !u.security).length
  if (others > 0) findings.push({ id: 'updates-pending', severity: 'info', message: `${others} other packages can be upgraded` })
  if (updates.listsAgeDays !== undefined && updates.listsAgeDays > STALE_LISTS_DAYS) {
    findings.push({
      id: 'apt-lists-stale',
      severity: staleLists,
      message: `apt's package lists are ${updates.listsAgeDays} days old: newer security updates are not known here`,
      fix: 'apt-get update, from cron or unattended-upgrades',
    })
  }
  return findings
}

/**
 * The guide's `apt list --upgradable`, security updates told apart; skipped without apt.
 * security-check rates package lists that are too old as low (a warning); maintain weekly, which
 * only reports the updates, as info.
 */
export function packageUpdatesStep(staleLists: 'low' | 'info'): StepDefinition<unknown, PackageUpdatesData> {
  return {
    // apt list has 60 s of its own.
    timeoutMs: 65_000,
    async run(_context, run) {
      const updates = await aptUpdates(60_000, run.signal)
      if (!updates) return { summary: 'no apt on this system: pending updates not checked', skipped: true }
      const security = updates.packages.filter((u) => u.security)
      return {
        summary: `${security.length} security updates pending, ${updates.packages.length - security.length} other upgradable packages`,
        findings: updateFindings(updates, staleLists),
        data: {
          source: 'apt',
          upgradable: updates.packages.length,
          security: security.map((p) => ({ name: p.name, ...(p.from !== undefined ? { from: p.from } : {}), version: p.version, suites: p.suites })),
          ...(updates.listsAgeDays !== undefined ? { listsAgeDays: updates.listsAgeDays } : {}),
        },
      }
    },
  }
}
