/** Network faults for timeout tests: a port that accepts and never answers, a port that refuses. */
import net from 'node:net'
import { freePort } from './ports.js'

export interface HangingServer {
  host: string
  port: number
  /** http://127.0.0.1:PORT, for HTTP clients (they will wait forever for a response). */
  url: string
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections currently open. */
  readonly open: number
  /** Bytes received from clients so far (the server reads, never writes). */
  readonly bytesReceived: number
  /** Stop listening and destroy every open socket. */
  close(): Promise<void>
}

/** A TCP listener on 127.0.0.1 that accepts connections and never writes a byte. */
export async function startHangingServer(): Promise<HangingServer> {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  let bytesReceived = 0
  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('data', (chunk: Buffer) => {
      bytesReceived += chunk.length
    })
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('hanging server: no port')
  const { port } = address
  return {
    host: '127.0.0.1',
    port,
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted
    },
    get open() {
      return sockets.size
    },
    get bytesReceived() {
      return bytesReceived
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        sockets.clear()
        server.close(() => resolve())
      }),
  }
}

/** A port on 127.0.0.1 nothing listens on: connecting gets ECONNREFUSED. */
export async function startRefusedPort(): Promise<number> {
  return freePort()
}
