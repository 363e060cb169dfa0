import net from 'node:net'

/** Ports handed out by this process, so that concurrent callers never get the same one twice. */
const handedOut = new Set<number>()

function listenOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('freePort: could not read the bound port'))
        return
      }
      const { port } = address
      server.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
}

/**
 * A TCP port on `host` that nothing listens on right now (the kernel picks it: listen on :0,
 * read the port, close). Never returns the same port twice within one process.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenOnce(host)
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: the kernel kept returning ports already handed out')
}

/** `count` distinct free ports on `host`. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort(host))
  return ports
}
