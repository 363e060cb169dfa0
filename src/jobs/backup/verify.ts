import type { BackupCopy } from '../../backups/catalog.js'
import { checkCopy, copyOptions, openCopy } from '../../backups/copy.js'
import type { Verification } from '../../backups/store.js'
import { listArchive } from '../../backups/verify.js'
import { describeError, StepFailure } from '../../errors.js'
import { formatSize, plural } from '../../lib/format.js'
import { manifestKey } from '../../repositories/layout.js'
import type { Finding, StepDefinition } from '../../report/outcome.js'
import { refusedFindings, withRefusedNote } from '../shared/refused.js'
import type { VerifyContext } from './context.js'
import type { ChecksumData, ReadArchiveData } from './data.js'

/**
 * `backup verify`: every copy (or those --repository picks) is checked, and each check is recorded
 * in that copy's own manifest, whatever its outcome (`backup list` shows the last).
 */

/** Recording happens after a failure too, the step's signal perhaps spent: its own bound. */
const RECORD_TIMEOUT_MS = 30_000

async function record(copy: BackupCopy, verification: Verification): Promise<void> {
  copy.manifest.verifications.push(verification)
  const body = Buffer.from(`${JSON.stringify(copy.manifest, null, 2)}\n`)
  await copy.repository.putBytes(manifestKey(copy.manifest.id), body, { signal: AbortSignal.timeout(RECORD_TIMEOUT_MS) })
}

/**
 * Runs a check of one copy, records it in that copy's manifest whatever its outcome, and rethrows a
 * failure. A manifest that cannot be rewritten (a bucket this host may only read) does not change
 * the check's outcome: it is noted in `context.state.unrecorded`.
 */
export async function recorded<T>(
  context: VerifyContext,
  copy: BackupCopy,
  method: Verification['method'],
  check: () => Promise<T>,
  describe: (result: T) => string,
): Promise<T> {
  const started = performance.now()
  const at = () => ({ at: new Date().toISOString(), method, durationMs: Math.round(performance.now() - started) })
  const write = (verification: Verification) =>
    record(copy, verification).catch((error: unknown) => context.state.unrecorded.push(`${copy.repository.name}: ${describeError(error)}`))
  try {
    const result = await check()
    await write({ ...at(), ok: true, detail: describe(result) })
    return result
  } catch (error) {
    await write({ ...at(), ok: false, detail: describeError(error) })
    throw error
  }
}

/** A finding for the verifications that could not be written to a copy's manifest. */
export function unrecordedFindings(context: VerifyContext): Finding[] {
  return context.state.unrecorded.splice(0).map((why, index) => ({
    id: `verification-not-recorded:${index}`,
    severity: 'low',
    message: `the result could not be recorded in the manifest: ${why}`,
    fix: 'backup list will not show this verification; check the repository allows this host to write',
  }))
}

/** A copy's failed check, naming its repository: high, so the step fails. */
function copyFailed(copy: BackupCopy, check: string, error: unknown): Finding {
  return {
    id: `${check}-failed:${copy.repository.name}`,
    severity: 'high',
    subject: copy.repository.where,
    message: `${copy.repository.name} (${copy.repository.where}): ${describeError(error)}`,
    fix: 'that copy cannot be trusted: restore reads another; take a new backup (probe-ops backup database)',
  }
}

export const checksumStep: StepDefinition<VerifyContext, ChecksumData> = {
  async run(context, run) {
    const { entry, unreadable } = context
    const findings: Finding[] = [...refusedFindings(unreadable)]
    const copies: ChecksumData['copies'] = []
    let lastError: unknown
    for (const copy of context.copies) {
      try {
        const checked = await recorded(
          context,
          copy,
          'checksum',
          () => checkCopy(copy, copyOptions(context.config, run.signal)),
          (r) => `sha256 matches, ${r.bytes} bytes${r.plainChecked ? '' : ' stored (plaintext not checked: no identityFile on this host)'}`,
        )
        context.state.passed.push(copy)
        copies.push({ repository: copy.repository.name, ok: true, plainChecked: checked.plainChecked })
        if (!checked.plainChecked)
          findings.push({
            id: `plaintext-not-checked:${copy.repository.name}`,
            severity: 'low',
            subject: copy.repository.where,
            message: `${copy.repository.name}: the stored (encrypted) bytes match; plaintext not checked: no identityFile on this host`,
            fix: 'verify where backup.encryption.identityFile is set (the host that restores)',
          })
      } catch (error) {
        if (run.signal.aborted) throw error
        lastError = error
        copies.push({ repository: copy.repository.name, ok: false, plainChecked: false, error: describeError(error) })
        findings.push(copyFailed(copy, 'checksum', error))
      }
    }
    const id = entry.manifest.id
    const passed = context.state.passed.length
    if (passed === 0 && context.copies.length === 1) throw lastError
    const where = context.copies.length > 1 ? ` in ${passed} of ${plural(context.copies.length, 'repository', 'repositories')}` : ''
    // Named, since `latest` may have chosen it.
    return {
      summary: withRefusedNote(`${id}: sha256 matches${where} (${formatSize(entry.manifest.bytes)})`, unreadable),
      findings: [...findings, ...unrecordedFindings(context)],
      data: { id, sha256: entry.manifest.sha256, copies },
    }
  },
}

/** pg_restore --list of one copy: the local file, or the copy's plain bytes streamed in. */
async function listCopy(context: VerifyContext, copy: BackupCopy, signal: AbortSignal): Promise<{ entries: number; tables: number }> {
  const { config, runtimes } = context
  if (copy.path !== undefined && !copy.manifest.encryption) return listArchive(config, runtimes, { manifest: copy.manifest, path: copy.path })
  const opened = await openCopy(copy.repository, copy.manifest, copyOptions(config, signal))
  try {
    // pg_restore reads the table of contents and stops: the rest of the stream is not needed.
    return await listArchive(config, runtimes, { manifest: copy.manifest, path: copy.location }, opened.stream)
  } finally {
    opened.stream.destroy()
  }
}

export const readArchiveStep: StepDefinition<VerifyContext, ReadArchiveData> = {
  async run(context, run) {
    const { kind, format } = context.entry.manifest
    if (kind !== 'database') return { skipped: true, summary: `a ${kind} backup is not a pg_dump archive` }
    const findings: Finding[] = []
    let listed: { entries: number; tables: number } | undefined
    for (const copy of context.state.passed) {
      const local = copy.path !== undefined && !copy.manifest.encryption
      if (!local && format === 'directory') continue
      if (!local && copy.manifest.encryption && !context.config.backup.encryption?.identityFile) continue
      try {
        listed = await recorded(
          context,
          copy,
          'list',
          () => listCopy(context, copy, run.signal),
          (r) => `${r.entries} entries, ${r.tables} tables with data`,
        )
      } catch (error) {
        if (run.signal.aborted) throw error
        findings.push(copyFailed(copy, 'archive', error))
      }
    }
    if (!listed) {
      if (findings.length) throw new StepFailure(findings[0]!.message, findings[0]!.fix)
      return { skipped: true, summary: 'no copy pg_restore can read from here (encrypted without an identity, or a directory-format dump in S3)' }
    }
    return { summary: `${listed.entries} entries, ${listed.tables} tables with data`, findings: [...findings, ...unrecordedFindings(context)], data: listed }
  },
}
