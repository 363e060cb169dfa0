import { describe, expect, it } from 'vitest'
import { agents } from '../../src/jobs/diagnose/agents.js'
import type { DiagnoseContext } from '../../src/jobs/diagnose/context.js'
import { monitoring } from '../../src/jobs/diagnose/monitoring.js'
import {
  GUIDE_ALERTS,
  exporterFindings,
  notReadyFinding,
  receiverFindings,
  receiversOf,
  ruleFindings,
  targetFindings,
  unreachableFinding,
} from '../../src/jobs/diagnose/monitoring-findings.js'
import { statusOf, type StepRun } from '../../src/report/outcome.js'
import type { RuleGroup, ScrapeTarget } from '../../src/systems/prometheus.js'

const target = (job: string, instance: string, health: ScrapeTarget['health'], lastError = ''): ScrapeTarget => ({
  job,
  instance,
  labels: { job, instance },
  health,
  lastError,
})

const guideGroup = (health: 'ok' | 'err' = 'ok'): RuleGroup => ({
  name: 'network-probe',
  file: '/etc/prometheus/rules/network-probe.yml',
  rules: GUIDE_ALERTS.map((name, i) => ({
    name,
    type: 'alerting',
    health: i === 0 ? health : 'ok',
    ...(i === 0 && health === 'err' ? { lastError: 'bad' } : {}),
  })),
})

describe('the monitoring stack’s findings', () => {
  it("knows the guide's ten alert rules", () => {
    expect(GUIDE_ALERTS).toHaveLength(10)
    expect(GUIDE_ALERTS).toContain('AgentDisconnected')
  })

  it('says which targets of which job are down, high when the whole job is', () => {
    const findings = targetFindings(
      [
        target('agents', 'a:1', 'up'),
        target('agents', 'b:1', 'down', 'connection refused'),
        target('node', 'n:9100', 'down', 'timeout'),
        target('x', 'x:1', 'up'),
      ],
      'http://prom:9090',
    )
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['scrape-targets-down:agents', 'medium'],
      ['scrape-targets-down:node', 'high'],
    ])
    expect(findings[0]!.message).toBe('1 of 2 targets of job agents down: b:1 (connection refused)')
    expect(findings[0]!.fix).toContain('http://prom:9090/targets')
  })

  it("says when no rules are loaded, which rule fails, and which of the guide's alerts are missing", () => {
    expect(ruleFindings([])[0]).toMatchObject({ id: 'rules-none', severity: 'high' })
    expect(ruleFindings([guideGroup()])).toEqual([])
    const failing = ruleFindings([guideGroup('err')])
    expect(failing).toMatchObject([{ id: `rule-failing:network-probe:${GUIDE_ALERTS[0]}`, severity: 'high' }])
    expect(failing[0]!.fix).toContain('/etc/prometheus/rules/network-probe.yml')
    const partial = ruleFindings([{ name: 'own', file: 'own.yml', rules: [{ name: 'AgentDisconnected', type: 'alerting', health: 'ok' }] }])
    expect(partial).toMatchObject([{ id: 'guide-rules-missing', severity: 'medium' }])
    expect(partial[0]!.message).toContain('HighCPUUsage')
    expect(partial[0]!.message).not.toContain('AgentDisconnected')
  })

  it('says an exporter is not scraped, down, or up without its server', () => {
    const findings = exporterFindings([
      { name: 'node', job: 'node-exporter', targets: [] },
      { name: 'postgres', job: 'postgres-exporter', targets: [target('postgres-exporter', 'p:9187', 'down', 'connection refused')] },
      { name: 'redis', job: 'redis-exporter', targets: [target('redis-exporter', 'r:9121', 'up')], reaches: false },
    ])
    expect(findings.map((f) => [f.id, f.severity])).toEqual([
      ['exporter-not-scraped:node', 'medium'],
      ['exporter-down:postgres', 'high'],
      ['exporter-blind:redis', 'high'],
    ])
    expect(exporterFindings([{ name: 'redis', job: 'r', targets: [target('r', 'r:1', 'up')], reaches: true }])).toEqual([])
  })

  it("reads AlertManager's receivers from its running configuration, and says when they notify nobody", () => {
    const yaml = `route:\n  receiver: ops\nreceivers:\n  - name: ops\n    email_configs:\n      - to: ops@example.com\n  - name: 'null'\n`
    const { receivers, route } = receiversOf(yaml)
    expect(receivers).toEqual([
      { name: 'ops', integrations: ['email'] },
      { name: 'null', integrations: [] },
    ])
    expect(receiverFindings(receivers, route)).toEqual([])
    expect(receiverFindings(receivers, 'null')).toMatchObject([{ id: 'alertmanager-silent-route:null', severity: 'low' }])
    expect(receiverFindings([{ name: 'null', integrations: [] }], 'null')).toMatchObject([{ id: 'alertmanager-no-receivers', severity: 'medium' }])
  })

  it('a part not ready or not answering fails the step (high), with what to do', () => {
    expect(notReadyFinding('prometheus', 'Prometheus at http://p is not ready: HTTP 503')).toMatchObject({
      id: 'prometheus-not-ready',
      severity: 'high',
      subject: 'prometheus',
      fix: expect.stringMatching(/systemctl start prometheus/) as unknown,
    })
    expect(notReadyFinding('prometheus', 'no answer', true).fix).toMatch(/prometheus.timeoutSeconds/)
    expect(notReadyFinding('loki', 'Loki at http://l is not ready: Ingester not ready')).toMatchObject({ id: 'loki-not-ready', severity: 'high' })
    expect(unreachableFinding('loki', 'Loki refused the connection at http://l', 'start Loki')).toEqual({
      id: 'loki-unreachable',
      severity: 'high',
      subject: 'loki',
      message: 'Loki refused the connection at http://l',
      fix: 'start Loki',
    })
    expect(unreachableFinding('alertmanager', 'bad', undefined).fix).toBe('check alertmanager.url')
    for (const finding of [notReadyFinding('alertmanager', 'x'), unreachableFinding('prometheus', 'x', undefined)]) expect(statusOf([finding])).toBe('failed')
  })
})

describe("diagnose's monitoring and agents steps without Prometheus", () => {
  it('are skipped as not configured, reading nothing', async () => {
    const context = { config: { prometheus: { url: '' } }, checkTimeoutMs: 1000 } as unknown as DiagnoseContext
    const run = {} as StepRun
    for (const step of [monitoring, agents]) expect(await step.run(context, run)).toEqual({ skipped: true, summary: 'not configured: prometheus.url is empty' })
  })
})
