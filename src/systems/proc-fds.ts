import { readdir, readlink } from 'node:fs/promises'

/**
 * The open file descriptors of every process, from /proc/PID/fd (all of them when run as root).
 * A process that ends, or whose descriptors may not be read, is passed over: what is open is
 * a snapshot, never a promise.
 */

export interface OpenDescriptor {
  pid: string
  fd: string
  /** What the descriptor's link names: a path, "socket:[inode]", "pipe:[inode]", ... */
  target: string
}

/** Calls `visit` with each open descriptor: the processes side by side, one process's descriptors in turn. */
export async function forEachOpenDescriptor(visit: (descriptor: OpenDescriptor) => Promise<void>): Promise<void> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name))
  await Promise.all(
    pids.map(async (pid) => {
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])
      for (const fd of fds) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined)
        if (target) await visit({ pid, fd, target })
      }
    }),
  )
}
