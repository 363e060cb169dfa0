/**
 * A throwaway Prometheus (Debian's /usr/bin/prometheus) on 127.0.0.1 at a free port, its TSDB in
 * a temp dir, scraping the given loopback targets every second. Tests serve their own exporter
 * and wait with `waitForPrometheusData` until a query has data (rate() needs a few scrapes).
 */
import path from 'node:path'
import { startPrometheusServer } from '../../src/local-platform/prometheus.js'
import { freePort } from './ports.js'
import { serviceInTempDir, type HttpServiceInfo, waitUntil, type BedService } from './process.js'

export { PROMETHEUS_BIN } from '../../src/local-platform/prometheus.js'

/** Where it answers: url is http://127.0.0.1:PORT (no trailing slash). */
export type PrometheusInfo = HttpServiceInfo

export type PrometheusServer = BedService<PrometheusInfo>

export interface StartPrometheusOptions {
  /** host:port of each exporter to scrape (GET /metrics), one job `platform`. */
  targets: string[]
  scrapeIntervalSeconds?: number
  port?: number
}

export function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  return serviceInTempDir('prombed-', [['SIGTERM', 10_000]], async (dir, started) => {
    const port = options.port ?? (await freePort())
    const logFile = path.join(dir, 'prometheus.log')
    const service = await startPrometheusServer({ ...options, port, dir, logFile, onStarted: started })
    return { service, info: { url: service.url, host: '127.0.0.1', port, pid: service.pid, configFile: service.configFile, logFile } }
  })
}

/** One instant query's vector, for tests. */
export async function prometheusQuery(info: Pick<PrometheusInfo, 'url'>, promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${info.url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`, { signal: AbortSignal.timeout(5000) })
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
  if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error ?? res.status}`)
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
}

/**
 * Wait (bounded) until every query returns at least one finite sample: the scrapes have
 * happened and rate() has two points to work with.
 */
export async function waitForPrometheusData(info: Pick<PrometheusInfo, 'url'>, queries: string[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    `prometheus at ${info.url} to have data for ${queries.join(', ')}`,
    async () => {
      for (const q of queries) {
        const result = await prometheusQuery(info, q)
        if (!result.some((r) => Number.isFinite(r.value))) return false
      }
      return true
    },
    { timeoutMs, intervalMs: 250 },
  )
}
