/**
 * deploy/grafana/probe-ops.json: a dashboard Grafana imports (the structure its schema asks for:
 * panels with unique ids and a place on the grid, Prometheus targets through the DS_PROMETHEUS
 * variable), whose every query parses and reads metrics probe-ops or the guide's agents export.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dump } from 'js-yaml'
import { describe, expect, it } from 'vitest'
import { KNOWN_METRICS, metricNames } from '../helpers/promql.js'
import { runPromtool, skipWithoutPromtool } from '../helpers/promtool.js'
import { tempDir } from '../helpers/temp.js'

interface Target {
  refId: string
  expr: string
  datasource: { type: string; uid: string }
}
interface Panel {
  id: number
  type: string
  title: string
  gridPos: { h: number; w: number; x: number; y: number }
  datasource?: { type: string; uid: string }
  targets?: Target[]
}
interface Variable {
  name: string
  type: string
  query: unknown
}
const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../deploy/grafana/probe-ops.json'), 'utf8')) as {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Variable[] }
  __inputs: { name: string; type: string; pluginId: string }[]
}
const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' }
const queries = dashboard.panels.filter((panel) => panel.type !== 'row')
const targets = queries.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })))

describe('deploy/grafana/probe-ops.json', () => {
  it('is a dashboard to import: uid, title, schema version, the Prometheus data source as an input and a variable', () => {
    expect(dashboard).toMatchObject({ uid: 'probe-ops', title: 'probe-ops' })
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })])
    expect(dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' })
  })

  it('places panels with unique ids on the 24-column grid, none over another', () => {
    const ids = dashboard.panels.map((panel) => panel.id)
    expect(new Set(ids).size).toBe(ids.length)
    const taken = new Set<string>()
    for (const { id, title, gridPos } of dashboard.panels) {
      for (const value of [gridPos.h, gridPos.w, gridPos.x, gridPos.y]) expect(Number.isInteger(value) && value >= 0, title).toBe(true)
      expect(gridPos.x + gridPos.w, title).toBeLessThanOrEqual(24)
      for (let row = gridPos.y; row < gridPos.y + gridPos.h; row++)
        for (let column = gridPos.x; column < gridPos.x + gridPos.w; column++) {
          expect(taken.has(`${row}:${column}`), `panel ${id} (${title}) overlaps another`).toBe(false)
          taken.add(`${row}:${column}`)
        }
    }
  })

  it('queries Prometheus through ${DS_PROMETHEUS} in every panel, with variables the dashboard defines', () => {
    const defined = new Set(dashboard.templating.list.map((v) => v.name))
    for (const panel of queries) {
      expect(panel.datasource, panel.title).toEqual(DATASOURCE)
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      const refIds = panel.targets!.map((target) => target.refId)
      expect(new Set(refIds).size, panel.title).toBe(refIds.length)
    }
    for (const { panel, target } of targets) {
      expect(target.datasource, panel.title).toEqual(DATASOURCE)
      expect(target.expr, panel.title).toBeTruthy()
      for (const [, name] of target.expr.matchAll(/\$\{?(\w+)/g)) expect(defined, `${panel.title}: $${name}`).toContain(name)
    }
  })

  it('covers the jobs, backups, certificates, capacity and agents', () => {
    const used = new Set(targets.flatMap(({ target }) => metricNames(target.expr)))
    for (const name of [
      'probe_ops_job_last_success_timestamp_seconds',
      'probe_ops_job_status',
      'probe_ops_job_duration_seconds',
      'probe_ops_step_findings',
      'probe_ops_backup_last_success_timestamp_seconds',
      'probe_ops_backup_size_bytes',
      'probe_ops_repository_newest_backup_timestamp_seconds',
      'probe_ops_wal_archive_lag_seconds',
      'probe_ops_certificate_expiry_timestamp_seconds',
      'probe_ops_disk_full_timestamp_seconds',
      'probe_ops_database_growth_bytes_per_day',
      'probe_ops_redis_memory_used_bytes',
      'agent_connection_status',
      'agent_heartbeats_total',
      'agent_tasks_total',
      'agent_cpu_usage_percent',
      'agent_memory_usage_bytes',
      'agent_disk_usage_bytes',
    ])
      expect(used, name).toContain(name)
  })

  it("reads only metrics probe-ops or the guide's agents export", () => {
    for (const { panel, target } of targets) for (const name of metricNames(target.expr)) expect(KNOWN_METRICS, `${panel.title}: ${name}`).toContain(name)
  })

  it.skipIf(skipWithoutPromtool)('has queries that parse as PromQL (`promtool check rules` on them as recording rules)', async () => {
    // Grafana's variables as it substitutes them for "All".
    const rules = targets.map(({ target }) => ({ record: 'probe_ops:dashboard_query', expr: target.expr.replace(/\$\{?\w+\}?/g, '.*') }))
    const file = join(tempDir('grafana-queries'), 'queries.yml')
    writeFileSync(file, dump({ groups: [{ name: 'dashboard', rules }] }))
    const check = await runPromtool(['check', 'rules', '--lint=none', file])
    expect(check.exitCode, check.output).toBe(0)
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`)
  })
})
