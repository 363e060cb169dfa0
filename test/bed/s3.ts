/**
 * An S3-compatible server for tests: s3rver 3.x (npm) in a child process on 127.0.0.1 at a free
 * port, with a data directory of its own and one bucket; and a TCP proxy in front of it that cuts
 * the connection mid-request, to make "the server failed mid-upload" happen for real.
 * s3rver checks the access key id (S3RVER) but not the signature: see design-14 §1.1.
 */
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { freePort } from './ports.js'
import { serviceInTempDir, spawnService, waitUntil } from './process.js'

/** The one access key id s3rver accepts; any secret goes with it. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER'

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string
  port: number
  dir: string
  bucket: string
  /** s3rver's file for a key (to corrupt it in place). */
  objectPath(key: string): string
  stop(): Promise<void>
}

const S3RVER_BIN = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js')

/** Whether something accepts TCP connections at the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** s3rver in a child process with `bucket` made at start. Under CI=true a failure to start fails the test. */
export async function startS3(options: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'probe-backups'
  let port = 0
  const server = await serviceInTempDir('s3bed-', [['SIGTERM', 5_000]], async (dir, started) => {
    port = await freePort()
    const service = await spawnService({
      name: 's3rver',
      command: process.execPath,
      args: [S3RVER_BIN, '--directory', path.join(dir, 'data'), '--address', '127.0.0.1', '--port', String(port), '--silent', '--configure-bucket', bucket],
      logFile: path.join(dir, 's3rver.log'),
      cwd: dir,
    })
    started(service)
    await waitUntil('s3rver', () => accepts(port), { timeoutMs: 30_000, intervalMs: 100, service })
    return { service, info: { dir } }
  })
  const dataDir = path.join(server.info.dir, 'data')
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir: dataDir,
    bucket,
    objectPath: (key) => `${path.join(dataDir, bucket, key)}._S3rver_object`,
    stop: server.stop,
  }
}

export interface CuttingProxy {
  endpoint: string
  /** Whether the cut has happened. */
  readonly cut: boolean
  close(): Promise<void>
}

/**
 * Forwards to the server and, once `cutAfterBytes` of requests have passed through it (all
 * connections together), destroys both sockets of every connection, as a server or network that
 * fails mid-upload would; connections made after the cut are closed at once.
 */
export async function startCuttingProxy(target: Pick<S3Server, 'port'>, options: { cutAfterBytes: number }): Promise<CuttingProxy> {
  const sockets = new Set<net.Socket>()
  let passed = 0
  let cut = false
  let cutting = false
  const cutAll = (): void => {
    cut = true
    for (const socket of sockets) socket.destroy()
    sockets.clear()
  }
  const server = net.createServer((client) => {
    if (cutting) return void client.destroy()
    const upstream = net.connect({ host: '127.0.0.1', port: target.port })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => {
      if (cutting) return
      const room = options.cutAfterBytes - passed
      passed += chunk.length
      if (chunk.length < room) return void upstream.write(chunk)
      cutting = true
      // The part before the cut reaches the server, as it would before a failure.
      upstream.write(chunk.subarray(0, room), () => cutAll())
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) client.write(chunk)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve())
  })
  const address = server.address() as net.AddressInfo
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    get cut() {
      return cut
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
