// Registered with `node --import`: records every package the process loads, so a test can
// prove that heavy libraries stay off the start-up path of commands that do not need them.
import { register } from 'node:module'
import { MessageChannel } from 'node:worker_threads'
import { appendFileSync } from 'node:fs'

const out = process.env.TRACE_IMPORTS_FILE
const { port1, port2 } = new MessageChannel()
port1.on('message', (specifier) => appendFileSync(out, `${specifier}\n`))
port1.unref()
register(
  'data:text/javascript,' +
    encodeURIComponent(`
let port
export function initialize(data) { port = data.port }
export async function resolve(specifier, context, next) { port.postMessage(specifier); return next(specifier, context) }
`),
  import.meta.url,
  { data: { port: port2 }, transferList: [port2] },
)
