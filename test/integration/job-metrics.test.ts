/**
 * The job's own gauges in node_exporter's textfile after real runs: cert check against real TLS
 * servers, backup database against the bed's PostgreSQL (a failed run keeping the last good
 * backup's figures). Each file passes `promtool check metrics`.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bed, startRefusedPort } from '../bed/index.js'
import { pki, startTlsServer, writeFile, type TlsServer } from '../helpers/certificates.js'
import { parseReport, runCli, runRecords, writeConfig } from '../helpers/cli.js'
import { createPlatformDatabase, databaseName, dropDatabase } from '../helpers/platform-db.js'
import { expectPromtoolAccepts, sampleValue as sample } from '../helpers/promtool.js'
import { tempDir } from '../helpers/temp.js'

describe('the gauges jobs write to the metrics file', () => {
  const servers: TlsServer[] = []
  const databases: string[] = []

  afterAll(async () => {
    for (const server of servers) await server.close()
    for (const name of databases) await dropDatabase(name)
  })

  it('cert check: the expiry time of each endpoint it reached, matching the days left its report counts', async () => {
    const dir = tempDir('metrics-cert')
    const { root, intermediate, leaf } = pki()
    const caFile = writeFile(dir, 'ca.pem', root.pem)
    const lasting = leaf({ commonName: 'lasting.example.test', sans: ['127.0.0.1'], notAfterDays: 120 })
    const expiring = leaf({ commonName: 'expiring.example.test', sans: ['127.0.0.1'], notAfterDays: 10 })
    for (const cert of [lasting, expiring]) servers.push(await startTlsServer(cert.keyPem, [cert, intermediate]))
    const refused = await startRefusedPort()
    const [good, soon] = servers.map((s) => s.address)
    const config = writeConfig({ certificates: { files: [], caFile, endpoints: [good, soon, `127.0.0.1:${refused}`] } })

    const result = await runCli(['cert', 'check', '--config', config.path, '--json'])
    const report = parseReport(result)
    expect(result.exitCode, result.stderr).toBe(1)
    const { metrics } = runRecords(config.dir, 'cert check')
    await expectPromtoolAccepts(metrics)
    const certificates = report.steps.find((s) => s.id === 'endpoints')!.data!.certificates as {
      target: string
      certificate: { daysLeft: number; notAfter: string }
    }[]
    for (const [target, subject] of [
      [good, 'lasting.example.test'],
      [soon, 'expiring.example.test'],
    ] as const) {
      const facts = certificates.find((c) => c.target === target)!.certificate
      const labels = `kind="endpoint",subject="${subject}",target="${target}"`
      const expiry = sample(metrics, 'probe_ops_certificate_expiry_timestamp_seconds', labels)
      expect(expiry, target).toBe(Date.parse(facts.notAfter) / 1000)
      // What the rules compute, at the run's end: the whole days the report counted.
      expect(Math.floor((expiry! - Date.parse(report.finishedAt) / 1000) / 86400), target).toBe(facts.daysLeft)
    }
    expect(certificates.map((c) => c.certificate?.daysLeft)).toEqual([119, 9, undefined])
    // Nothing read from the refused endpoint: no figure made up for it (its finding fails the job).
    expect(metrics).not.toContain(`target="127.0.0.1:${refused}"`)
    expect(metrics).toContain('probe_ops_step_findings{job="cert check",step="endpoints",severity="high"} 1')
  })

  it('backup database: the last good dump’s time and size, kept through a failed run', async () => {
    const database = await createPlatformDatabase(databaseName('metrics'), { days: 2, rowsPerDay: 50 })
    databases.push(database)
    const { postgres } = bed()
    const backupDir = join(tempDir('metrics-backup'), 'backups')
    const settings = (port: number) => ({ postgres: { host: postgres.host, port, user: postgres.user, database }, backup: { dir: backupDir, configPaths: [] } })
    const good = writeConfig(settings(postgres.port))
    const env = { PGPASSWORD: postgres.password }

    const taken = await runCli(['backup', 'database', '--config', good.path, '--json'], env)
    expect(taken.exitCode, taken.stderr).toBe(0)
    const report = parseReport(taken)
    const bytes = report.steps[0]!.data!.bytes as number
    const first = runRecords(good.dir, 'backup database').metrics
    await expectPromtoolAccepts(first)
    const finished = Date.parse(report.finishedAt) / 1000
    expect(sample(first, 'probe_ops_backup_last_success_timestamp_seconds', 'kind="database"')).toBe(finished)
    expect(sample(first, 'probe_ops_backup_size_bytes', 'kind="database"')).toBe(bytes)
    expect(bytes).toBeGreaterThan(0)

    // The same metrics directory, PostgreSQL refusing: the run fails and the figures stay.
    const refused = await startRefusedPort()
    const down = writeConfig({ ...settings(refused), metrics: { textfileDir: join(good.dir, 'metrics') } })
    const failed = await runCli(['backup', 'database', '--config', down.path, '--json'], env)
    expect(failed.exitCode, failed.stderr).toBe(1)
    const after = readFileSync(join(good.dir, 'metrics', 'probe_ops_backup_database.prom'), 'utf8')
    await expectPromtoolAccepts(after)
    expect(sample(after, 'probe_ops_job_status', 'job="backup database"')).toBe(2)
    expect(sample(after, 'probe_ops_backup_last_success_timestamp_seconds', 'kind="database"')).toBe(finished)
    expect(sample(after, 'probe_ops_backup_size_bytes', 'kind="database"')).toBe(bytes)
    expect(after).not.toContain(postgres.password)
  })
})
