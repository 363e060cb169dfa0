import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Report, StepResult } from '../../src/report/model.js'
import { bed } from '../bed/index.js'
import { pki, writeFile } from '../helpers/certificates.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { mountSmallDisk } from '../helpers/full-disk.js'
import { createPlatformDatabase, databaseName, dropDatabase, sql } from '../helpers/platform-db.js'
import { expectValidReport } from '../helpers/report-schema.js'
import { tempDir } from '../helpers/temp.js'

function step(report: Report, id: string): StepResult {
  const found = report.steps.find((s) => s.id === id)
  if (!found) throw new Error(`no step ${id}`)
  return found
}

describe('probe-ops maintain weekly against real PostgreSQL', () => {
  let database: string
  beforeAll(async () => {
    database = await createPlatformDatabase(databaseName('weekly'), { days: 10, rowsPerDay: 100 })
  })
  afterAll(async () => {
    await dropDatabase(database)
  })

  function setup(extra: Record<string, unknown> = {}) {
    const dir = tempDir('weekly')
    const { postgres } = bed()
    const authority = pki()
    const expiring = writeFile(dir, 'expiring.crt', authority.leaf({ commonName: 'probe.example', notAfterDays: 20 }).pem, authority.intermediate.pem)
    const ca = writeFile(dir, 'ca.crt', authority.root.pem)
    const cfg = writeConfig({
      postgres: { host: postgres.host, port: postgres.port, user: postgres.user, database },
      backup: { dir: join(dir, 'backups'), configPaths: ['/etc/hostname'] },
      certificates: { files: [expiring], caFile: ca },
      reports: { dir: join(dir, 'reports') },
      prometheus: { url: '' },
      ...extra,
    })
    return { ...cfg, backups: join(dir, 'backups'), run: (args: string[]) => runCli([...args, '--config', cfg.path], { PGPASSWORD: postgres.password }) }
  }

  it('backs up, checks updates and certificates, and warns about a certificate expiring within 30 days', async () => {
    const s = setup()
    const result = await s.run(['maintain', 'weekly', '--json'])
    const report = parseReport(result)
    expectValidReport(report)
    expect(result.exitCode, JSON.stringify(report.steps, null, 1)).toBe(0)
    expect(report.steps.map((x) => x.id)).toEqual(['backup-database', 'backup-config', 'package-updates', 'certificates', 'performance-report'])
    expect(['ok', 'warning']).toContain(step(report, 'performance-report').status)
    expect(readdirSync(join(s.backups, '..', 'reports')).some((n) => n.startsWith('performance-'))).toBe(true)
    expect(step(report, 'backup-database').status).toBe('ok')
    expect(step(report, 'backup-config').status).toBe('ok')
    expect(['ok', 'warning', 'skipped']).toContain(step(report, 'package-updates').status)
    expect(step(report, 'certificates').status).toBe('warning')
    const manifests = readdirSync(s.backups).filter((n) => n.endsWith('.manifest.json'))
    expect(manifests).toHaveLength(2)
    const failOnWarning = await s.run(['maintain', 'weekly', '--only', 'certificates', '--fail-on', 'warning'])
    expect(failOnWarning.exitCode).toBe(1)
  })

  it('fails the backup that fills its disk as a failed step, runs the rest, and keeps no partial file', async () => {
    await sql(
      database,
      `insert into task_results (task_id, agent_id, execution_time, status, result) select 1, 1, now(), 'success', jsonb_build_object('noise', md5(random()::text) || md5(random()::text)) from generate_series(1, 150000)`,
    )
    const disk = await mountSmallDisk('2m')
    try {
      const s = setup({ backup: { dir: disk.dir, configPaths: ['/etc/hostname'] } })
      const result = await s.run(['maintain', 'weekly', '--json', '--skip', 'package-updates,performance-report'])
      expect(result.exitCode, result.stdout + result.stderr).toBe(1)
      const report = parseReport(result)
      expectValidReport(report)
      expect(step(report, 'backup-database')).toMatchObject({
        status: 'failed',
        summary: expect.stringMatching(/the disk of .* is full \(no space left on device\)/),
      })
      // The next steps still ran: the configuration's small archive fits in what the dump left free.
      expect(step(report, 'backup-config').status).toBe('ok')
      expect(step(report, 'certificates').status).toBe('warning')
      expect(readdirSync(disk.dir).filter((n) => !n.startsWith('config-'))).toEqual([])
      const { log, metrics } = runRecords(s.dir, 'maintain weekly')
      expect(log.some((l) => l.step === 'backup-database' && l.level === 'error' && /no space left on device/.test(l.message))).toBe(true)
      expect(metrics).toContain('probe_ops_job_status{job="maintain weekly"} 2')
    } finally {
      await disk.unmount()
    }
  })

  it('changes nothing with --dry-run and runs only what --only names', async () => {
    const s = setup()
    const dry = await s.run(['maintain', 'weekly', '--json', '--dry-run', '--only', 'backup-database,backup-config'])
    expect(dry.exitCode).toBe(0)
    expect(step(parseReport(dry), 'backup-database').summary).toMatch(/^would dump/)
    expect(readdirSync(join(s.backups, '..')).includes('backups')).toBe(false)
  })
})
