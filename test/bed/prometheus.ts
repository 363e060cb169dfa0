/**
 * A throwaway Prometheus (Debian's /usr/bin/prometheus) on 127.0.0.1 at a free port, its TSDB in
 * a temp dir, scraping the given loopback targets every second. Tests serve their own exporter
 * and wait with `waitForPrometheusData` until a query has data (rate() needs a few scrapes).
 */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from './ports.js'
import { makeTempDir, removeDir, spawnService, stopService, track, waitUntil } from './process.js'

export const PROMETHEUS_BIN = '/usr/bin/prometheus'

export interface PrometheusInfo {
  /** http://127.0.0.1:PORT (no trailing slash). */
  url: string
  host: string
  port: number
  pid: number
  configFile: string
  logFile: string
}

export interface PrometheusServer {
  info: PrometheusInfo
  stop(): Promise<void>
}

export interface StartPrometheusOptions {
  /** host:port of each exporter to scrape (GET /metrics), one job `platform`. */
  targets: string[]
  scrapeIntervalSeconds?: number
  port?: number
}

function scrapeConfig(targets: string[], interval: number): string {
  return `# test bed: scrape the test's exporters
global:
  scrape_interval: ${interval}s
  evaluation_interval: ${interval}s
scrape_configs:
  - job_name: platform
    static_configs:
      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]
`
}

export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusServer> {
  const dir = await makeTempDir('prombed-')
  const tracked = track({ dirs: [dir] })
  try {
    const port = opts.port ?? (await freePort())
    const configFile = path.join(dir, 'prometheus.yml')
    const logFile = path.join(dir, 'prometheus.log')
    await writeFile(configFile, scrapeConfig(opts.targets, opts.scrapeIntervalSeconds ?? 1))
    const url = `http://127.0.0.1:${port}`
    const service = await spawnService({
      name: 'prometheus',
      command: PROMETHEUS_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      logFile,
      cwd: dir,
    })
    tracked.entry.pids.push(service.pid)
    const stop = async (): Promise<void> => {
      await stopService(service, [['SIGTERM', 10_000]])
      await removeDir(dir)
      tracked.untrack()
    }
    try {
      await waitUntil(
        `prometheus at ${url} to answer GET /-/ready`,
        async () => {
          const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
          await res.arrayBuffer()
          return res.ok
        },
        { timeoutMs: 30_000, intervalMs: 100, service },
      )
    } catch (err) {
      await stop()
      throw err
    }
    return { info: { url, host: '127.0.0.1', port, pid: service.pid, configFile, logFile }, stop }
  } catch (err) {
    await removeDir(dir)
    tracked.untrack()
    throw err
  }
}

/** One instant query's vector, for tests. */
export async function prometheusQuery(info: Pick<PrometheusInfo, 'url'>, promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${info.url}/api/v1/query?${new URLSearchParams({ query: promql })}`, { signal: AbortSignal.timeout(5000) })
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
  if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error ?? res.status}`)
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
}

/**
 * Wait (bounded) until every query returns at least one finite sample: the scrapes have
 * happened and rate() has two points to work with.
 */
export async function waitForPrometheusData(info: PrometheusInfo, queries: string[], timeoutMs = 30_000): Promise<void> {
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
