/** A throwaway AlertManager (Debian's prometheus-alertmanager), no clustering, one null receiver: the toolkit's, in a temp dir. */
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { startAlertmanagerServer } from '../../src/local-platform/alertmanager.js'
import { freePort } from './ports.js'
import { serviceInTempDir, type HttpServiceInfo, type BedService } from './process.js'

export { ALERTMANAGER_BIN } from '../../src/local-platform/alertmanager.js'

/** Where it answers: url is http://127.0.0.1:PORT (no trailing slash); the v2 API is under /api/v2. */
export type AlertmanagerInfo = HttpServiceInfo

export type AlertmanagerServer = BedService<AlertmanagerInfo>

/**
 * A user AlertManager's web server accepts with `basicAuth: true` (its web.config.file). The
 * bcrypt hash is the password's, made once (cost 4, fast enough for a test): no bcrypt in Node.
 */
export const ALERTMANAGER_BASIC_AUTH = {
  user: 'probe',
  password: 'bed-Al3rt-Pass',
  bcrypt: '$2b$04$RN1jPZ2KHJ3Zs8/E6cGXXutZlv5W72Rm9WZAMz1deFr.LuN1p4JHG',
}

export function startAlertmanager(options: { port?: number; basicAuth?: boolean } = {}): Promise<AlertmanagerServer> {
  return serviceInTempDir('ambed-', [['SIGTERM', 5_000]], async (dir, started) => {
    const port = options.port ?? (await freePort())
    const configFile = path.join(dir, 'alertmanager.yml')
    const logFile = path.join(dir, 'alertmanager.log')
    const webConfigFile = path.join(dir, 'web.yml')
    const { user, password, bcrypt } = ALERTMANAGER_BASIC_AUTH
    if (options.basicAuth) await writeFile(webConfigFile, `basic_auth_users:\n  ${user}: '${bcrypt}'\n`)
    const service = await startAlertmanagerServer({
      port,
      configFile,
      storageDir: path.join(dir, 'data'),
      logFile,
      cwd: dir,
      ...(options.basicAuth ? { webConfigFile, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : {}),
      onStarted: started,
    })
    return { service, info: { url: service.url, host: '127.0.0.1', port, pid: service.pid, configFile, logFile } }
  })
}
