import type { BasicCredentials } from '../config/secret.js'
import { describeError } from '../errors.js'
import { SystemError, isSystemError } from './errors.js'
import { fetchJson, httpErrorCode, type JsonRequest } from './http.js'

/** AlertManager through its API v2 (the v1 endpoint the guide posts to is gone). */

export interface AlertmanagerConfig {
  /** Without credentials. */
  url: string
  credentials?: BasicCredentials
  timeoutMs: number
}

/** One call of the API v2: `path` from /api/v2 on. */
export function alertmanagerApi<T>(config: AlertmanagerConfig, path: string, init: Omit<JsonRequest, 'credentials'> = {}): Promise<T> {
  return fetchJson<T>(`${config.url}/api/v2${path}`, config.timeoutMs, { ...init, credentials: config.credentials })
}

export interface FiringAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  status: { state: string }
}

export interface OutgoingAlert {
  labels: Record<string, string>
  annotations?: Record<string, string>
  startsAt?: string
  endsAt?: string
  generatorURL?: string
}

export async function listFiringAlerts(config: AlertmanagerConfig): Promise<FiringAlert[]> {
  try {
    return await alertmanagerApi<FiringAlert[]>(config, '/alerts?active=true&silenced=false&inhibited=false')
  } catch (error) {
    throw alertmanagerFailure(error, config)
  }
}

export async function postAlerts(config: AlertmanagerConfig, alerts: OutgoingAlert[]): Promise<void> {
  try {
    await alertmanagerApi(config, '/alerts', { method: 'POST', body: alerts })
  } catch (error) {
    throw alertmanagerFailure(error, config)
  }
}

/** An AlertManager call's failure, said of AlertManager at its address; the code is the HTTP exchange's. */
export function alertmanagerFailure(error: unknown, config: AlertmanagerConfig): SystemError {
  if (isSystemError(error, 'alertmanager')) return error
  const code = httpErrorCode(error)
  const options = { cause: error, target: config.url }
  if (code === 'refused') return new SystemError('alertmanager', code, `AlertManager refused the connection at ${config.url}`, options)
  if (code === 'no-answer') return new SystemError('alertmanager', code, `AlertManager at ${config.url} did not answer within ${config.timeoutMs} ms`, options)
  return new SystemError('alertmanager', code, `AlertManager at ${config.url}: ${describeError(error)}`, options)
}

export interface Matcher {
  name: string
  value: string
  isRegex: boolean
  isEqual: boolean
}

/** Parses `name="value"`, `name=~"a|b"`, `name!="v"`, `name!~"re"`. */
export function parseMatcher(text: string): Matcher | undefined {
  const match = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(text)
  if (!match) return undefined
  const op = match[2]!
  return { name: match[1]!, value: match[3]!.replace(/\\(.)/g, '$1'), isRegex: op.includes('~'), isEqual: !op.startsWith('!') }
}

/** Creates a silence and returns its id. */
export async function createSilence(config: AlertmanagerConfig, matchers: Matcher[], durationMs: number, comment: string): Promise<string> {
  const now = new Date()
  try {
    const result = await alertmanagerApi<{ silenceID: string }>(config, '/silences', {
      method: 'POST',
      body: { matchers, startsAt: now.toISOString(), endsAt: new Date(now.getTime() + durationMs).toISOString(), createdBy: 'probe-ops', comment },
    })
    return result.silenceID
  } catch (error) {
    throw alertmanagerFailure(error, config)
  }
}

export async function expireSilence(config: AlertmanagerConfig, id: string): Promise<void> {
  try {
    await alertmanagerApi(config, `/silence/${encodeURIComponent(id)}`, { method: 'DELETE' })
  } catch (error) {
    throw alertmanagerFailure(error, config)
  }
}

/** What /api/v2/status says: AlertManager's version, cluster state and the configuration it runs (YAML). */
export interface AlertmanagerStatus {
  version?: string
  cluster?: string
  configYaml: string
}

export async function alertmanagerStatus(config: AlertmanagerConfig): Promise<AlertmanagerStatus> {
  let answer: { config?: { original?: string }; versionInfo?: { version?: string }; cluster?: { status?: string } }
  try {
    answer = await alertmanagerApi<typeof answer>(config, '/status')
  } catch (error) {
    throw alertmanagerFailure(error, config)
  }
  return {
    ...(answer?.versionInfo?.version ? { version: answer.versionInfo.version } : {}),
    ...(answer?.cluster?.status ? { cluster: answer.cluster.status } : {}),
    configYaml: answer?.config?.original ?? '',
  }
}
