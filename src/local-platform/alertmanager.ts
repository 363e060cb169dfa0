import { mkdir, writeFile } from 'node:fs/promises'
import { answersHttp, startReadyService, type RunningService } from './services.js'

/** A throwaway AlertManager (Debian's prometheus-alertmanager): no clustering, one receiver that does nothing. */

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager'

export const NULL_RECEIVER_CONFIG = `# every alert goes to a receiver that does nothing
route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: 'null'
`

export interface AlertmanagerOptions {
  port: number
  /** NULL_RECEIVER_CONFIG is written here. */
  configFile: string
  /** Its data (silences, notification log); made when missing. */
  storageDir: string
  logFile: string
  cwd: string
  /** Its web.config.file (basic auth users), and the Authorization header that passes it. */
  webConfigFile?: string
  authorization?: string
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  newSession?: boolean
  onStarted?: (service: RunningService) => void | Promise<void>
}

export async function startAlertmanagerServer(options: AlertmanagerOptions): Promise<RunningService & { url: string }> {
  await writeFile(options.configFile, NULL_RECEIVER_CONFIG, { mode: 0o644 })
  await mkdir(options.storageDir, { recursive: true, mode: 0o700 })
  const url = `http://127.0.0.1:${options.port}`
  const headers = options.authorization ? { authorization: options.authorization } : undefined
  const service = await startReadyService(
    {
      name: 'alertmanager',
      command: ALERTMANAGER_BIN,
      args: [
        `--config.file=${options.configFile}`,
        `--storage.path=${options.storageDir}`,
        `--web.listen-address=127.0.0.1:${options.port}`,
        '--cluster.listen-address=',
        `--log.level=${options.logLevel ?? 'warn'}`,
        ...(options.webConfigFile ? [`--web.config.file=${options.webConfigFile}`] : []),
      ],
      logFile: options.logFile,
      cwd: options.cwd,
      newSession: options.newSession,
    },
    { what: `alertmanager at ${url} to answer GET /api/v2/status`, probe: () => answersHttp(`${url}/api/v2/status`, headers), timeoutMs: 30_000 },
    options.onStarted,
  )
  return Object.assign(service, { url })
}
