import { describe, expect, it } from 'vitest'
import { diagnose } from '../../src/jobs/diagnose/spec.js'
import { maintainDaily } from '../../src/jobs/maintain-daily/spec.js'
import { recover } from '../../src/jobs/recover/spec.js'
import { lockOf } from '../../src/jobs/run.js'
import { checkStepChoice, stepHelp } from '../../src/jobs/spec.js'

describe('the help of diagnose, maintain daily and recover comes from their specs', () => {
  it('lists each step with its line, ids padded', () => {
    expect(stepHelp(diagnose)).toBe(
      [
        '  host        CPU, load, memory and disk usage against disk.warningPercent/criticalPercent',
        "  services    each service's runtime state beside its readiness check: running, serving, or why not",
        '  http        the health URL of each HTTP service: status and latency',
        '  postgres    SELECT 1, connections, size, cache hit ratio, the longest query and transaction',
        '  redis       PING, memory against maxmemory, evictions, the last save',
        "  logs        errors in the logs of every service since --since, repeats grouped; every host's through Loki when loki.url is set",
        '  alerts      what AlertManager has firing',
        "  monitoring  Prometheus's targets, rules and exporters, AlertManager's receivers, Loki's readiness; skipped when prometheus.url is empty",
        '  agents      the agents in trouble, as `probe-ops agents` judges them; skipped when prometheus.url is empty',
        "  backups     each repository's newest backup of each kind against backup.maxAge and its last verification, PostgreSQL's WAL archiver, the last archived WAL file in each repository, interrupted restores",
      ].join('\n'),
    )
    expect(stepHelp(maintainDaily)).toBe(
      [
        '  clean-logs   delete old log files (never through symlinks, never one open for writing)',
        '  clean-temp   delete old temporary files',
        '  retention    delete rows past their retention in short batches, or drop whole old partitions',
        '  vacuum       VACUUM (ANALYZE) the database',
        '  reindex      rebuild bloated indexes with REINDEX CONCURRENTLY; drop leftovers of interrupted rebuilds',
        '  stats-reset  pg_stat_statements_reset(), when the extension is installed',
        '  disk         disk usage against warning/critical percents, pushed to AlertManager (API v2)',
        '  services     every service running and ready; a down one fails the run and alerts',
      ].join('\n'),
    )
    expect(stepHelp(recover)).toBe(
      '  one step per service, named after it (postgres, redis, management, ...): the services given and what they depend on, dependencies first',
    )
  })

  it('checks --only/--skip against the steps before anything runs', () => {
    expect(() => checkStepChoice(diagnose, ['postgres', 'nope'], [])).toThrow('unknown step "nope" for diagnose')
    expect(() => checkStepChoice(maintainDaily, [], ['retention', 'vacum'])).toThrow('unknown step "vacum" for maintain daily')
    // recover's steps are its services, known once the configuration is.
    expect(() => checkStepChoice(recover, ['anything'], [])).not.toThrow()
  })

  it('takes a lock only for the jobs that change something, and not for a dry run', () => {
    const options = { services: [], force: false }
    expect([lockOf(diagnose, {}, false), lockOf(maintainDaily, {}, false), lockOf(recover, options, false)]).toEqual([undefined, 'maintain-daily', 'recover'])
    expect(lockOf(recover, options, true)).toBeUndefined()
  })
})
