import { findingsOutcome, type Finding } from '../../report/findings.js'
import type { Step } from '../../report/runner.js'
import { aptUpdates, type AptUpdates } from '../../systems/packages.js'
import type { SecurityContext } from './context.js'

/** apt's lists older than this may hide pending security updates. */
const STALE_LISTS_DAYS = 7

export function updateFindings(updates: AptUpdates): Finding[] {
  const findings: Finding[] = []
  const security = updates.packages.filter((u) => u.security)
  if (security.length > 0) {
    // One finding, not one per package: its id stays the same while the list changes.
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
      severity: 'low',
      message: `apt's package lists are ${updates.listsAgeDays} days old: newer security updates are not known here`,
      fix: 'apt-get update, from cron or unattended-upgrades',
    })
  }
  return findings
}

export const securityUpdatesStep: Step<SecurityContext> = {
  id: 'security-updates',
  title: 'Pending security updates',
  async run(_context, run) {
    const updates = await aptUpdates(60_000, run.signal)
    if (!updates) return { status: 'skipped', summary: 'no apt on this system: pending updates not checked' }
    const security = updates.packages.filter((u) => u.security)
    const findings = updateFindings(updates)
    return findingsOutcome(`${security.length} security updates pending, ${updates.packages.length - security.length} other upgradable packages`, findings, {
      source: 'apt',
      security: security.map((p) => ({ name: p.name, from: p.from, version: p.version, suites: p.suites })),
      upgradable: updates.packages.length,
      ...(updates.listsAgeDays !== undefined ? { listsAgeDays: updates.listsAgeDays } : {}),
    })
  },
}
