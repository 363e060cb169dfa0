/** A throwaway AlertManager (Debian's prometheus-alertmanager), no clustering, one null receiver. */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { freePort } from './ports.js'
import { makeTempDir, removeDir, spawnService, stopService, track, waitUntil } from './process.js'

export const ALERTMANAGER_BIN = '/usr/bin/prometheus-alertmanager'

export interface AlertmanagerInfo {
  /** http://127.0.0.1:PORT (no trailing slash); the v2 API is under /api/v2. */
  url: string
  host: string
  port: number
  pid: number
  configFile: string
  logFile: string
}

export interface AlertmanagerServer {
  info: AlertmanagerInfo
  stop(): Promise<void>
}

const CONFIG = `# test bed: every alert goes to a receiver that does nothing
route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: 'null'
`

/**
 * A user AlertManager's web server accepts with `basicAuth: true` (its web.config.file). The
 * bcrypt hash is the password's, made once (cost 4, fast enough for a test): no bcrypt in Node.
 */
export const ALERTMANAGER_BASIC_AUTH = {
  user: 'probe',
  password: 'bed-Al3rt-Pass',
  bcrypt: '$2b$04$RN1jPZ2KHJ3Zs8/E6cGXXutZlv5W72Rm9WZAMz1deFr.LuN1p4JHG',
}

export async function startAlertmanager(opts: { port?: number; basicAuth?: boolean } = {}): Promise<AlertmanagerServer> {
  const dir = await makeTempDir('ambed-')
  const tracked = track({ dirs: [dir] })
  try {
    const port = opts.port ?? (await freePort())
    const configFile = path.join(dir, 'alertmanager.yml')
    const storage = path.join(dir, 'data')
    const logFile = path.join(dir, 'alertmanager.log')
    await writeFile(configFile, CONFIG)
    const webConfig = path.join(dir, 'web.yml')
    const { user, password, bcrypt } = ALERTMANAGER_BASIC_AUTH
    if (opts.basicAuth) await writeFile(webConfig, `basic_auth_users:\n  ${user}: '${bcrypt}'\n`)
    const url = `http://127.0.0.1:${port}`
    const authorization = opts.basicAuth ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : undefined
    const service = await spawnService({
      name: 'alertmanager',
      command: ALERTMANAGER_BIN,
      args: [
        `--config.file=${configFile}`,
        `--storage.path=${storage}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
        ...(opts.basicAuth ? [`--web.config.file=${webConfig}`] : []),
      ],
      logFile,
      cwd: dir,
    })
    tracked.entry.pids.push(service.pid)
    const stop = async (): Promise<void> => {
      await stopService(service, [['SIGTERM', 5_000]])
      await removeDir(dir)
      tracked.untrack()
    }
    try {
      await waitUntil(
        `alertmanager at ${url} to answer GET /api/v2/status`,
        async () => {
          const res = await fetch(`${url}/api/v2/status`, { signal: AbortSignal.timeout(1000), headers: authorization })
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
