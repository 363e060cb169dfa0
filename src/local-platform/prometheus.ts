import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dump } from 'js-yaml'
import { answersHttp, startReadyService, type RunningService } from './services.js'

/** A throwaway Prometheus (Debian's) on 127.0.0.1, its TSDB in its directory, scraping the given loopback targets. */

export const PROMETHEUS_BIN = '/usr/bin/prometheus'

export interface ScrapeTarget {
  /** host:port of an exporter (GET /metrics). */
  address: string
  /** Labels of this target's series (agent_id for an agent). */
  labels?: Readonly<Record<string, string>>
}

export interface ScrapeJob {
  /** The job label: `agents`, `node-exporter`, ... */
  name: string
  targets: readonly ScrapeTarget[]
}

export interface PrometheusConfigOptions {
  jobs: readonly ScrapeJob[]
  intervalSeconds: number
  /** Globs of rule files. */
  ruleFiles?: readonly string[]
  /** AlertManagers (http://host:port) the rules' alerts go to. */
  alertmanagers?: readonly string[]
}

/** prometheus.yml: one static config per label set, so that each agent's series carry its agent_id. */
export function prometheusConfig(options: PrometheusConfigOptions): string {
  const config: Record<string, unknown> = {
    global: { scrape_interval: `${options.intervalSeconds}s`, evaluation_interval: `${options.intervalSeconds}s` },
    ...(options.ruleFiles?.length ? { rule_files: [...options.ruleFiles] } : {}),
    ...(options.alertmanagers?.length
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers.map((url) => new URL(url).host) }] }] } }
      : {}),
    scrape_configs: options.jobs.map((job) => {
      const groups = new Map<string, { targets: string[]; labels?: Record<string, string> }>()
      for (const target of job.targets) {
        const key = JSON.stringify(target.labels ?? {})
        let group = groups.get(key)
        if (!group) groups.set(key, (group = { targets: [], ...(target.labels ? { labels: { ...target.labels } } : {}) }))
        group.targets.push(target.address)
      }
      return { job_name: job.name, static_configs: [...groups.values()] }
    }),
  }
  return `# scrape a local platform's exporters\n${dump(config, { lineWidth: -1, noRefs: true })}`
}

/** One job, `platform`, scraping each target. */
export function scrapeConfig(targets: readonly string[], intervalSeconds: number): string {
  return prometheusConfig({ jobs: [{ name: 'platform', targets: targets.map((address) => ({ address })) }], intervalSeconds })
}

export interface PrometheusOptions {
  /** host:port of each exporter to scrape (GET /metrics), as one job `platform`. */
  targets?: readonly string[]
  /** Jobs to scrape, besides `targets`. */
  jobs?: readonly ScrapeJob[]
  /** Rule files to load, by file name: written to DIR/rules/. */
  rules?: Readonly<Record<string, string>>
  /** The AlertManager (http://host:port) that alerts go to. */
  alertmanagerUrl?: string
  port: number
  /** prometheus.yml, rules/ and the TSDB (data/) go here. */
  dir: string
  logFile: string
  /** 1 s by default: rate() has two points after a few seconds. */
  scrapeIntervalSeconds?: number
  /** The program: PROMETHEUS_BIN by default. */
  binary?: string
  newSession?: boolean
  onStarted?: (service: RunningService) => void | Promise<void>
}

export async function startPrometheusServer(options: PrometheusOptions): Promise<RunningService & { url: string; configFile: string }> {
  const configFile = join(options.dir, 'prometheus.yml')
  const rulesDir = join(options.dir, 'rules')
  const rules = Object.entries(options.rules ?? {})
  if (rules.length > 0) await mkdir(rulesDir, { recursive: true })
  for (const [name, text] of rules) await writeFile(join(rulesDir, name), text, { mode: 0o644 })
  const jobs = [...(options.targets?.length ? [{ name: 'platform', targets: options.targets.map((address) => ({ address })) }] : []), ...(options.jobs ?? [])]
  const config = prometheusConfig({
    jobs,
    intervalSeconds: options.scrapeIntervalSeconds ?? 1,
    ruleFiles: rules.length > 0 ? [join(rulesDir, '*.yml')] : [],
    alertmanagers: options.alertmanagerUrl ? [options.alertmanagerUrl] : [],
  })
  await writeFile(configFile, config, { mode: 0o644 })
  const url = `http://127.0.0.1:${options.port}`
  const service = await startReadyService(
    {
      name: 'prometheus',
      command: options.binary ?? PROMETHEUS_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(options.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${options.port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      logFile: options.logFile,
      cwd: options.dir,
      newSession: options.newSession,
    },
    { what: `prometheus at ${url} to answer GET /-/ready`, probe: () => answersHttp(`${url}/-/ready`), timeoutMs: 30_000 },
    options.onStarted,
  )
  return Object.assign(service, { url, configFile })
}
