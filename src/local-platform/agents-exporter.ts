/**
 * A fleet of generated probe agents in one process, started by the local-platform toolkit
 * (agents.ts) as a service of its own:
 *
 *   node agents-exporter.js --spec FILE --pid-file FILE
 *
 * FILE is the JSON of AgentsExporterSpec. Each agent that is not `down` serves its metrics at
 * http://HOST:PORT/metrics, one port per agent as real agents each have their own; a down agent's
 * port is left closed, so its scrapes are refused. With `loki` set, every agent's log lines (down
 * ones too: their logs still ship) are pushed to Loki every interval, the first at once. The pid
 * file is written once every port listens; SIGTERM or SIGINT closes everything and removes it.
 * Its own events go to stderr, which the toolkit sends to a log file.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { parseArgs } from 'node:util'
import { agentLogLines, agentMetricsText, type AgentSpec } from './agent-metrics.js'
import { agentLogEntry, pushToLoki } from './loki-push.js'

export interface AgentsExporterSpec {
  host: string
  agents: AgentSpec[]
  loki?: { url: string; intervalSeconds: number }
}

const { values } = parseArgs({ options: { spec: { type: 'string' }, 'pid-file': { type: 'string' } }, strict: true })
const pidFile = values['pid-file']
if (!values.spec || !pidFile) {
  process.stderr.write('usage: agents-exporter.js --spec FILE --pid-file FILE\n')
  process.exit(2)
}
const spec = JSON.parse(readFileSync(values.spec, 'utf8')) as AgentsExporterSpec

function say(message: string): void {
  process.stderr.write(`${new Date().toISOString()} agents-exporter: ${message}\n`)
}

const startedAt = performance.now()
const servers: Server[] = []

function serve(agent: AgentSpec): Promise<void> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    const body = agentMetricsText(agent, (performance.now() - startedAt) / 1000)
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  server.keepAliveTimeout = 2000
  servers.push(server)
  return new Promise((resolve, reject) => {
    server.once('error', (failure: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${spec.host}:${agent.port} for ${agent.id}: ${failure.code ?? failure.message}`)),
    )
    server.listen(agent.port, spec.host, () => resolve())
  })
}

let tick = 0
let pushing = false
let lastFailure = ''

/** One push of every agent's lines; a failure is said once until the pushes work again. */
async function pushLogs(loki: NonNullable<AgentsExporterSpec['loki']>): Promise<void> {
  if (pushing) return
  pushing = true
  const now = new Date()
  const entries = spec.agents.flatMap((agent) => agentLogLines(agent, tick, loki.intervalSeconds).map((l) => agentLogEntry(agent.id, l.level, l.message, now)))
  tick++
  try {
    await pushToLoki(loki.url, entries)
    if (lastFailure) say(`pushes to ${loki.url} work again`)
    lastFailure = ''
  } catch (failure) {
    const message = failure instanceof Error ? failure.message : String(failure)
    if (message !== lastFailure) say(`cannot push logs to ${loki.url}: ${message}`)
    lastFailure = message
  } finally {
    pushing = false
  }
}

function stop(signal: string): void {
  say(`stopping on ${signal}`)
  try {
    if (readFileSync(pidFile!, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile!)
  } catch {
    // no pid file of ours to remove
  }
  for (const server of servers) {
    server.close()
    server.closeAllConnections()
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))

try {
  await Promise.all(spec.agents.filter((agent) => agent.state !== 'down').map(serve))
} catch (failure) {
  say(failure instanceof Error ? failure.message : String(failure))
  process.exit(1)
}
const { loki } = spec
if (loki) {
  void pushLogs(loki)
  setInterval(() => void pushLogs(loki), loki.intervalSeconds * 1000)
}
// Alive while it is not told to stop, even with every agent down and no Loki to push to.
setInterval(() => undefined, 60_000)
const temporary = `${pidFile}.${process.pid}.tmp`
writeFileSync(temporary, `${process.pid}\n`)
renameSync(temporary, pidFile)
say(
  `${spec.agents.length} agents on ${spec.host}, ${spec.agents.filter((agent) => agent.state === 'down').length} of them down${loki ? `, logs to ${loki.url}` : ''}`,
)
