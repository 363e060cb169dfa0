/** deploy/prometheus: the shipped alert rules load, their promtool tests pass, and each alert is tested firing and not. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { describe, expect, it } from 'vitest'
import { metricNames, KNOWN_METRICS } from '../helpers/promql.js'
import { runPromtool, skipWithoutPromtool } from '../helpers/promtool.js'

const DIR = join(import.meta.dirname, '../../deploy/prometheus')
const RULES = join(DIR, 'probe-ops.rules.yml')
const TESTS = join(DIR, 'probe-ops.rules.test.yml')

interface Rule {
  alert: string
  expr: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}
const rules = (load(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules)
const cases = (load(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap(
  (test) => test.alert_rule_test,
)

describe('deploy/prometheus/probe-ops.rules.yml', () => {
  it('alerts with a severity, a summary and a description that names the command to run (probe-ops, or systemd and journal commands for a job that does not run)', () => {
    expect(rules.length).toBeGreaterThan(0)
    for (const rule of rules) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity)
      expect(rule.annotations.summary, rule.alert).toBeTruthy()
      expect(rule.annotations.description, rule.alert).toMatch(/`(probe-ops|systemctl|journalctl) [^`]+`/)
    }
  })

  it("reads only probe-ops' own metrics and node_exporter's textfile gauges", () => {
    for (const rule of rules) for (const name of metricNames(rule.expr)) expect(KNOWN_METRICS, `${rule.alert}: ${name}`).toContain(name)
  })

  it('tests every alert firing and not firing', () => {
    for (const alert of new Set(rules.map((rule) => rule.alert))) {
      const tested = cases.filter((c) => c.alertname === alert)
      expect(
        tested.some((c) => c.exp_alerts.length > 0),
        `${alert} firing`,
      ).toBe(true)
      expect(
        tested.some((c) => c.exp_alerts.length === 0),
        `${alert} not firing`,
      ).toBe(true)
    }
  })

  it.skipIf(skipWithoutPromtool)('passes `promtool check rules` and `promtool test rules`', async () => {
    const check = await runPromtool(['check', 'rules', RULES])
    expect(check.exitCode, check.output).toBe(0)
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`)
    const test = await runPromtool(['test', 'rules', TESTS])
    expect(test.exitCode, test.output).toBe(0)
    expect(test.output).toContain('SUCCESS')
  })
})
