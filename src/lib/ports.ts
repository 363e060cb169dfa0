import { createServer } from 'node:net'

/** Ports handed out by this process, so that callers starting services side by side never get the same one. */
const handedOut = new Set<number>()

/** How often the kernel may hand back a port this process already gave away before we give up. */
const ATTEMPTS = 20

function listenOnce(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('could not read the port the kernel picked'))
        return
      }
      server.close((error) => (error ? reject(error) : resolvePort(address.port)))
    })
  })
}

/**
 * A TCP port on `host` that nothing listens on right now: the kernel picks it (listen on :0,
 * read the port, close). Never the same port twice within one process.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = await listenOnce(host)
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port on ${host}: the kernel kept returning ports already handed out`)
}

/** `count` free ports, all different. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = []
  for (let index = 0; index < count; index++) ports.push(await freePort(host))
  return ports
}
