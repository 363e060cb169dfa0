/**
 * A stand-in for one of the platform's HTTP services, run by `probe-ops sandbox up` as a
 * detached process of its own:
 *
 *   node fake-http.js --role management|web|alertmanager --port N --pid-file F --log-file L
 *
 * management answers GET /api/v1/health like the FastAPI app; web serves a page for any GET;
 * alertmanager (used only where AlertManager is not installed) keeps posted alerts in memory
 * and lists them through the API v2. It writes its pid file once it listens, one JSON line per
 * request and event to its log file (the fields Promtail extracts), and stops cleanly on
 * SIGTERM or SIGINT, removing its pid file. Only node's own modules: it must start fast.
 */
import { appendFileSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'

type Role = 'management' | 'web' | 'alertmanager'

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'pid-file': { type: 'string' },
    'log-file': { type: 'string' },
  },
  strict: true,
})

const role = values.role as Role
const port = Number(values.port)
const pidFile = values['pid-file']
const logFile = values['log-file']
if (!['management', 'web', 'alertmanager'].includes(role) || !Number.isInteger(port) || port < 1 || port > 65535 || !pidFile || !logFile) {
  process.stderr.write('usage: fake-http.js --role management|web|alertmanager --port N --pid-file FILE --log-file FILE\n')
  process.exit(2)
}

function log(level: 'info' | 'warning' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ timestamp: new Date().toISOString(), level, message, module: role, ...fields })
  try {
    appendFileSync(logFile!, `${line}\n`)
  } catch {
    // A log that cannot be written must not take the service down.
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > 1024 * 1024) req.destroy(new Error('request body over 1 MiB'))
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

const started = new Date().toISOString()

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Network Probe</title></head>
<body><h1>Network Probe</h1><p>The sandbox's stand-in for the web UI.</p></body></html>
`

function management(req: IncomingMessage, res: ServerResponse): number {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method === 'GET' && path === '/api/v1/health') {
    send(res, 200, { status: 'healthy', version: 'sandbox', started_at: started })
    return 200
  }
  send(res, 404, { detail: 'Not Found' })
  return 404
}

function web(req: IncomingMessage, res: ServerResponse): number {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed\n', 'text/plain')
    return 405
  }
  send(res, 200, PAGE, 'text/html; charset=utf-8')
  return 200
}

interface StoredAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  updatedAt: string
  generatorURL: string
}

const alerts = new Map<string, StoredAlert>()
/** AlertManager's default resolve_timeout: an alert posted without endsAt resolves after it. */
const RESOLVE_MS = 5 * 60 * 1000

async function alertmanager(req: IncomingMessage, res: ServerResponse): Promise<number> {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method === 'GET' && (path === '/-/healthy' || path === '/-/ready')) {
    send(res, 200, 'OK', 'text/plain')
    return 200
  }
  if (req.method === 'GET' && path === '/api/v2/status') {
    send(res, 200, { cluster: { status: 'disabled', peers: [] }, versionInfo: { version: 'sandbox-stand-in' }, uptime: started, config: { original: '' } })
    return 200
  }
  if (path === '/api/v2/alerts' && req.method === 'GET') {
    const now = Date.now()
    const active = [...alerts.values()]
      .filter((a) => Date.parse(a.endsAt) > now)
      .map((a) => ({ ...a, fingerprint: fingerprint(a.labels), receivers: [{ name: 'null' }], status: { state: 'active', silencedBy: [], inhibitedBy: [] } }))
    send(res, 200, active)
    return 200
  }
  if (path === '/api/v2/alerts' && req.method === 'POST') {
    let posted: unknown
    try {
      posted = JSON.parse(await readBody(req))
    } catch {
      send(res, 400, { code: 400, message: 'body is not JSON' })
      return 400
    }
    if (!Array.isArray(posted) || posted.some((a) => typeof a !== 'object' || a === null || typeof (a as { labels?: unknown }).labels !== 'object')) {
      send(res, 400, { code: 400, message: 'expected an array of alerts with labels' })
      return 400
    }
    const now = new Date()
    for (const a of posted as Array<Partial<StoredAlert>>) {
      const labels = a.labels!
      const startsAt = a.startsAt ?? now.toISOString()
      alerts.set(fingerprint(labels), {
        labels,
        annotations: a.annotations ?? {},
        startsAt,
        endsAt: a.endsAt ?? new Date(now.getTime() + RESOLVE_MS).toISOString(),
        updatedAt: now.toISOString(),
        generatorURL: a.generatorURL ?? '',
      })
    }
    send(res, 200, '')
    return 200
  }
  send(res, 404, { code: 404, message: 'not found' })
  return 404
}

function fingerprint(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')
}

const server = createServer((req, res) => {
  const began = performance.now()
  const handle = async () => (role === 'management' ? management(req, res) : role === 'web' ? web(req, res) : alertmanager(req, res))
  handle().then(
    (status) =>
      log('info', `${req.method} ${req.url} ${status}`, { method: req.method, path: req.url, status, duration_ms: Math.round(performance.now() - began) }),
    (failure: unknown) => {
      log('error', `${req.method} ${req.url} failed: ${failure instanceof Error ? failure.message : String(failure)}`)
      if (!res.headersSent) send(res, 500, { detail: 'Internal Server Error' })
    },
  )
})
server.keepAliveTimeout = 2000

server.on('error', (failure: NodeJS.ErrnoException) => {
  log('error', `cannot listen on ${values.host}:${port}: ${failure.code ?? failure.message}`)
  process.exit(1)
})

server.listen(port, values.host, () => {
  const temporary = `${pidFile}.${process.pid}.tmp`
  writeFileSync(temporary, `${process.pid}\n`)
  renameSync(temporary, pidFile)
  log('info', `${role} listening on http://${values.host}:${port}`, { pid: process.pid })
})

function stop(signal: string): void {
  log('info', `stopping on ${signal}`)
  try {
    if (readFileSync(pidFile!, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile!)
  } catch {
    // no pid file of ours to remove
  }
  server.close(() => process.exit(0))
  server.closeAllConnections()
  setTimeout(() => process.exit(0), 2000).unref()
}

process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
