import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A stand-in for the platform's /metrics on 127.0.0.1, in Prometheus's text format written by
 * hand: the metric names of the guide's management API and agents. Counters grow with time at
 * the rates given, so that Prometheus's rate() over them comes out at those rates.
 */

export interface ExporterSpec {
  /** tasks per second by protocol and status ("success" or "error"). */
  tasks: Record<string, { success: number; error: number }>
  /** HTTP requests per second by endpoint, and the share of them in each latency bucket (upper bounds in seconds). */
  http: Record<string, { perSecond: number; buckets: Array<[le: number, share: number]> }>
  /** agent id -> connected */
  agents: Record<string, boolean>
}

export interface Exporter {
  /** host:port, for a scrape config. */
  target: string
  scrapes: number
  close(): Promise<void>
}

const LES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export function metricsText(spec: ExporterSpec, elapsedSeconds: number): string {
  const lines: string[] = []
  lines.push('# HELP tasks_total Total tasks executed', '# TYPE tasks_total counter')
  for (const [protocol, rates] of Object.entries(spec.tasks)) {
    for (const status of ['success', 'error'] as const)
      lines.push(`tasks_total{protocol="${protocol}",status="${status}"} ${Math.floor(rates[status] * elapsedSeconds)}`)
  }
  lines.push('# HELP http_request_duration_seconds HTTP request duration', '# TYPE http_request_duration_seconds histogram')
  for (const [endpoint, { perSecond, buckets }] of Object.entries(spec.http)) {
    const count = Math.floor(perSecond * elapsedSeconds)
    for (const le of LES) {
      const share = buckets.filter(([upper]) => upper <= le).reduce((a, [, s]) => a + s, 0)
      lines.push(`http_request_duration_seconds_bucket{method="GET",endpoint="${endpoint}",le="${le}"} ${Math.floor(count * share)}`)
    }
    lines.push(`http_request_duration_seconds_bucket{method="GET",endpoint="${endpoint}",le="+Inf"} ${count}`)
    lines.push(`http_request_duration_seconds_sum{method="GET",endpoint="${endpoint}"} ${(count * 0.1).toFixed(3)}`)
    lines.push(`http_request_duration_seconds_count{method="GET",endpoint="${endpoint}"} ${count}`)
  }
  lines.push('# HELP agent_connection_status Connection status (1=connected, 0=disconnected)', '# TYPE agent_connection_status gauge')
  for (const [agent, connected] of Object.entries(spec.agents)) lines.push(`agent_connection_status{agent_id="${agent}"} ${connected ? 1 : 0}`)
  return `${lines.join('\n')}\n`
}

export async function startExporter(spec: ExporterSpec): Promise<Exporter> {
  const started = performance.now()
  let scrapes = 0
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    scrapes++
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
    // A start offset of 1000 s: every counter already has a value at the first scrape.
    res.end(metricsText(spec, 1000 + (performance.now() - started) / 1000))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    target: `127.0.0.1:${port}`,
    get scrapes() {
      return scrapes
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
