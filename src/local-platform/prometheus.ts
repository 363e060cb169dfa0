import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { answersHttp, startReadyService, type RunningService } from './services.js'

/** A throwaway Prometheus (Debian's) on 127.0.0.1, its TSDB in its directory, scraping the given loopback targets. */

export const PROMETHEUS_BIN = '/usr/bin/prometheus'

export interface PrometheusOptions {
  /** host:port of each exporter to scrape (GET /metrics), as one job `platform`. */
  targets: readonly string[]
  port: number
  /** prometheus.yml and the TSDB (data/) go here. */
  dir: string
  logFile: string
  /** 1 s by default: rate() has two points after a few seconds. */
  scrapeIntervalSeconds?: number
  onStarted?: (service: RunningService) => void | Promise<void>
}

export function scrapeConfig(targets: readonly string[], intervalSeconds: number): string {
  return `# scrape a local platform's exporters
global:
  scrape_interval: ${intervalSeconds}s
  evaluation_interval: ${intervalSeconds}s
scrape_configs:
  - job_name: platform
    static_configs:
      - targets: [${targets.map((target) => `'${target}'`).join(', ')}]
`
}

export async function startPrometheusServer(options: PrometheusOptions): Promise<RunningService & { url: string; configFile: string }> {
  const configFile = join(options.dir, 'prometheus.yml')
  await writeFile(configFile, scrapeConfig(options.targets, options.scrapeIntervalSeconds ?? 1))
  const url = `http://127.0.0.1:${options.port}`
  const service = await startReadyService(
    {
      name: 'prometheus',
      command: PROMETHEUS_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(options.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${options.port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      logFile: options.logFile,
      cwd: options.dir,
    },
    { what: `prometheus at ${url} to answer GET /-/ready`, probe: () => answersHttp(`${url}/-/ready`), timeoutMs: 30_000 },
    options.onStarted,
  )
  return Object.assign(service, { url, configFile })
}
