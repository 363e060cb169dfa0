import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig } from '../../src/config/load.js'
import { UsageError } from '../../src/errors.js'

/** The sections of capacity-report and report performance: reports, prometheus, capacity, performance. */
describe('configuration of the reports', () => {
  const resolve = (text: string, env: Record<string, string> = {}) => resolveConfig(parseConfigText(text, 'site.yaml'), null, env)

  it("defaults to the guide's deployment", () => {
    const config = resolve('')
    expect(config.reports.dir).toBe('/var/lib/probe-ops/reports')
    expect(config.prometheus).toEqual({ url: 'http://localhost:9090', timeoutMs: 5000 })
    expect(config.capacity).toMatchObject({ days: 30, fillWarningDays: 30, fillCriticalDays: 7, minHistoryPoints: 3, minHistoryDays: 7 })
    expect(config.performance).toEqual({ windowMs: 86_400_000, top: 10 })
  })

  it('takes Prometheus from PROMETHEUS_URL, lets the file win, and leaves it out with an empty URL', () => {
    expect(resolve('', { PROMETHEUS_URL: 'http://prom:9090/' }).prometheus.url).toBe('http://prom:9090')
    expect(resolve('prometheus:\n  url: http://file:9090\n', { PROMETHEUS_URL: 'http://env:9090' }).prometheus.url).toBe('http://file:9090')
    expect(resolve("prometheus:\n  url: ''\n").prometheus.url).toBe('')
    expect(resolve('', { PROMETHEUS_URL: '' }).prometheus.url).toBe('')
    expect(() => resolve('', { PROMETHEUS_URL: 'prom:9090' })).toThrow(UsageError)
  })

  it('names the line and key of a bad value', () => {
    expect(() => parseConfigText('capacity:\n  fillWarningDays: 5\n  fillCriticalDays: 10\n', 'site.yaml')).toThrow(
      'site.yaml:3: "capacity.fillCriticalDays": must not be more than fillWarningDays',
    )
    expect(() => parseConfigText('performance:\n  window: a week\n', 'site.yaml')).toThrow(
      'site.yaml:2: "performance.window": is not a duration: use a number with a unit (ms, s, m, h, d, w)',
    )
    expect(() => parseConfigText('prometheus:\n  url: not a url\n', 'site.yaml')).toThrow('site.yaml:2: "prometheus.url": Invalid url')
    expect(() => parseConfigText('reports:\n  dri: /x\n', 'site.yaml')).toThrow('site.yaml:2: unknown key "reports.dri"')
  })
})
