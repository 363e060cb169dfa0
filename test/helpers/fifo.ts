import { execFileSync } from 'node:child_process'
import { constants, openSync } from 'node:fs'
import { Socket } from 'node:net'

/** A FIFO at `path` (mkfifo). */
export function makeFifo(path: string): void {
  execFileSync('mkfifo', [path])
}

/**
 * A reader of the FIFO, open before anything is written (O_RDWR never waits for a writer, and
 * keeps the reader from seeing the end of the file between writers); `read(n)` waits for n bytes,
 * `readUntil` for a pattern.
 */
export function openFifoReader(path: string): { read(bytes: number): Promise<string>; readUntil(pattern: RegExp): Promise<string>; close(): void } {
  const socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false })
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const until = (done: () => boolean) =>
    new Promise<string>((resolve) => {
      const check = () => {
        if (!done()) return
        socket.off('data', check)
        socket.destroy()
        resolve(text)
      }
      socket.on('data', check)
      check()
    })
  return { read: (bytes) => until(() => text.length >= bytes), readUntil: (pattern) => until(() => pattern.test(text)), close: () => socket.destroy() }
}
