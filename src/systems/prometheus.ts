import type { BasicCredentials } from '../config/secret.js'
import { describeError, formatSeconds } from '../errors.js'
import { SystemError, isSystemError } from './errors.js'
import { fetchJson, httpErrorCode } from './http.js'

/** Prometheus's HTTP API (instant queries), through undici with a bound on every request. */

export interface PrometheusConfig {
  /** Without a trailing slash; empty when Prometheus is not configured. */
  url: string
  credentials?: BasicCredentials
  timeoutMs: number
}

export interface Sample {
  labels: Record<string, string>
  /** NaN when Prometheus says so (a quantile of no data). */
  value: number
}

interface ApiAnswer {
  status: 'success' | 'error'
  data?: { resultType: string; result: unknown }
  errorType?: string
  error?: string
}

/** One instant query (`/api/v1/query`), its result as samples; a scalar is one sample without labels. */
export async function queryInstant(config: PrometheusConfig, promql: string, at?: Date): Promise<Sample[]> {
  const params = new URLSearchParams({ query: promql, timeout: `${Math.max(1, Math.floor(config.timeoutMs / 1000))}s` })
  if (at) params.set('time', String(at.getTime() / 1000))
  let answer: ApiAnswer
  try {
    answer = await fetchJson<ApiAnswer>(`${config.url}/api/v1/query?${params.toString()}`, config.timeoutMs, { credentials: config.credentials })
  } catch (error) {
    throw prometheusFailure(error, config, promql)
  }
  if (answer?.status !== 'success' || !answer.data) {
    throw new SystemError('prometheus', 'bad-answer', `Prometheus rejected the query ${promql}: ${answer?.error ?? 'no data in its answer'}`, {
      target: config.url,
      data: { answer: 'no-data' },
    })
  }
  const { resultType, result } = answer.data
  if (resultType === 'scalar') return [{ labels: {}, value: Number((result as [number, string])[1]) }]
  if (resultType !== 'vector')
    throw new SystemError('prometheus', 'bad-answer', `Prometheus answered a ${resultType} to an instant query`, {
      target: config.url,
      data: { answer: 'unexpected-type' },
    })
  return (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }))
}

/** Prometheus's build info: a cheap check that the URL is a Prometheus that answers. */
export async function prometheusVersion(config: PrometheusConfig): Promise<string | undefined> {
  try {
    const answer = await fetchJson<{ data?: { version?: string } }>(`${config.url}/api/v1/status/buildinfo`, config.timeoutMs, {
      credentials: config.credentials,
    })
    return answer?.data?.version
  } catch (error) {
    throw prometheusFailure(error, config)
  }
}

/**
 * What went wrong with Prometheus, said of Prometheus at its address. A bad answer's data.answer
 * tells which: 'query-rejected' (a 400 to a query), 'not-json', 'no-data', 'unexpected-type'.
 */
export function prometheusFailure(error: unknown, config: PrometheusConfig, promql?: string): SystemError {
  if (isSystemError(error, 'prometheus')) return error
  const code = httpErrorCode(error)
  const data = isSystemError(error, 'http') ? error.data : undefined
  const options = { cause: error, target: config.url }
  if (code === 'refused') return new SystemError('prometheus', code, `Prometheus refused the connection at ${config.url}`, options)
  if (code === 'dns') return new SystemError('prometheus', code, `Prometheus host of ${config.url} does not resolve`, options)
  if (code === 'no-answer')
    return new SystemError('prometheus', code, `Prometheus at ${config.url} did not answer within ${formatSeconds(config.timeoutMs)}`, options)
  if (data?.status === 400 && promql)
    return new SystemError('prometheus', 'bad-answer', `Prometheus rejected the query ${promql}: ${String(data.body)}`, {
      ...options,
      data: { answer: 'query-rejected' },
    })
  if (data?.notJson)
    return new SystemError('prometheus', 'bad-answer', `${config.url} did not answer with Prometheus JSON`, { ...options, data: { answer: 'not-json' } })
  return new SystemError('prometheus', code, `Prometheus at ${config.url}: ${describeError(error)}`, options)
}

/** A PromQL duration from milliseconds: 90000 -> "90s", 86400000 -> "1d". */
export function promDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000))
  if (s % 86_400 === 0) return `${s / 86_400}d`
  if (s % 3600 === 0) return `${s / 3600}h`
  if (s % 60 === 0) return `${s / 60}m`
  return `${s}s`
}

/** One active scrape target, as /api/v1/targets lists it. */
export interface ScrapeTarget {
  job: string
  instance: string
  labels: Record<string, string>
  health: 'up' | 'down' | 'unknown'
  /** The last scrape's error: "connection refused", "context deadline exceeded"; '' when it worked. */
  lastError: string
  lastScrape?: string
  /** Prometheus 2.42+ says it; absent before. */
  scrapeIntervalSeconds?: number
}

interface TargetsAnswer {
  data?: {
    activeTargets?: {
      labels?: Record<string, string>
      scrapePool?: string
      health?: string
      lastError?: string
      lastScrape?: string
      scrapeInterval?: string
    }[]
  }
}

/** A Prometheus duration as it writes them in its API (15s, 1m30s, 500ms), in seconds. */
function apiSeconds(text: string | undefined): number | undefined {
  if (!text) return undefined
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
    total += Number(amount) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[unit as 'ms' | 's' | 'm' | 'h' | 'd']
  return total > 0 ? total : undefined
}

/** GET a JSON document of Prometheus's API, its failures in Prometheus's words. */
async function prometheusGet<T>(config: PrometheusConfig, path: string): Promise<T> {
  try {
    return await fetchJson<T>(`${config.url}${path}`, config.timeoutMs, { credentials: config.credentials })
  } catch (error) {
    throw prometheusFailure(error, config)
  }
}

/** Prometheus's own default scrape interval, when neither the job nor global sets one. */
const DEFAULT_SCRAPE_INTERVAL = '1m'

/** The scrape interval of `job` in a parsed prometheus.yml: its own, else global's, else Prometheus's default; seconds. */
export function jobScrapeSeconds(parsed: unknown, job: string): number | undefined {
  const config = (parsed ?? {}) as { global?: { scrape_interval?: unknown }; scrape_configs?: { job_name?: unknown; scrape_interval?: unknown }[] }
  const own = Array.isArray(config.scrape_configs) ? config.scrape_configs.find((c) => c?.job_name === job)?.scrape_interval : undefined
  const interval = [own, config.global?.scrape_interval, DEFAULT_SCRAPE_INTERVAL].find((v): v is string => typeof v === 'string')
  return apiSeconds(interval)
}

/** The scrape interval of one job, from the configuration Prometheus runs (/api/v1/status/config). */
export async function scrapeIntervalOf(config: PrometheusConfig, job: string): Promise<number | undefined> {
  const answer = await prometheusGet<{ data?: { yaml?: unknown } }>(config, '/api/v1/status/config')
  const yaml = answer?.data?.yaml
  if (typeof yaml !== 'string')
    throw new SystemError('prometheus', 'bad-answer', `${config.url} did not give its configuration`, { target: config.url, data: { answer: 'no-data' } })
  // Loaded here only: most users of this module never read Prometheus's configuration.
  const { load } = await import('js-yaml')
  try {
    return jobScrapeSeconds(load(yaml), job)
  } catch (error) {
    throw new SystemError('prometheus', 'bad-answer', `${config.url} gave a configuration that is not YAML`, { cause: error, target: config.url })
  }
}

/** Prometheus's active scrape targets, those of one job (scrape pool) when it is given. */
export async function scrapeTargets(config: PrometheusConfig, job?: string): Promise<ScrapeTarget[]> {
  const query = new URLSearchParams({ state: 'active', ...(job ? { scrapePool: job } : {}) })
  const answer = await prometheusGet<TargetsAnswer>(config, `/api/v1/targets?${query.toString()}`)
  const targets = answer?.data?.activeTargets
  if (!Array.isArray(targets))
    throw new SystemError('prometheus', 'bad-answer', `${config.url} did not list scrape targets`, { target: config.url, data: { answer: 'not-json' } })
  return targets
    .map((t) => {
      const labels = t.labels ?? {}
      const interval = apiSeconds(t.scrapeInterval)
      return {
        job: labels.job ?? t.scrapePool ?? '',
        instance: labels.instance ?? '',
        labels,
        health: t.health === 'up' || t.health === 'down' ? t.health : 'unknown',
        lastError: t.lastError ?? '',
        ...(t.lastScrape ? { lastScrape: t.lastScrape } : {}),
        ...(interval !== undefined ? { scrapeIntervalSeconds: interval } : {}),
      } satisfies ScrapeTarget
    })
    .filter((t) => job === undefined || t.job === job)
}

/** One rule as /api/v1/rules lists it. */
export interface LoadedRule {
  name: string
  type: 'alerting' | 'recording'
  health: 'ok' | 'err' | 'unknown'
  lastError?: string
  /** Alerting rules: inactive, pending or firing. */
  state?: string
}

export interface RuleGroup {
  name: string
  file: string
  rules: LoadedRule[]
}

interface RulesAnswer {
  data?: { groups?: { name?: string; file?: string; rules?: { name?: string; type?: string; health?: string; lastError?: string; state?: string }[] }[] }
}

/** The rule groups Prometheus has loaded, and how each rule's last evaluation went. */
export async function ruleGroups(config: PrometheusConfig): Promise<RuleGroup[]> {
  const answer = await prometheusGet<RulesAnswer>(config, '/api/v1/rules')
  const groups = answer?.data?.groups
  if (!Array.isArray(groups))
    throw new SystemError('prometheus', 'bad-answer', `${config.url} did not list rule groups`, { target: config.url, data: { answer: 'not-json' } })
  return groups.map((g) => ({
    name: g.name ?? '',
    file: g.file ?? '',
    rules: (g.rules ?? []).map((r) => ({
      name: r.name ?? '',
      type: r.type === 'recording' ? 'recording' : 'alerting',
      health: r.health === 'ok' || r.health === 'err' ? r.health : 'unknown',
      ...(r.lastError ? { lastError: r.lastError } : {}),
      ...(r.state ? { state: r.state } : {}),
    })),
  }))
}
