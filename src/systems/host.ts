import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { describeError } from '../errors.js'
import { round1 } from '../lib/format.js'
import { sleep } from '../lib/time.js'

/** Facts about this machine, from /proc and df (through check-disk-space). */

export interface CpuUsage {
  cores: number
  load1: number
  load5: number
  load15: number
  /** Busy share of all cores over the sample, in percent. */
  usagePercent: number
}

async function cpuTimes(): Promise<{ idle: number; total: number; self: number }> {
  const [line, self] = await Promise.all([readFile('/proc/stat', 'utf8').then((t) => t.split('\n')[0]!), readFile('/proc/self/stat', 'utf8')])
  const fields = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  // utime and stime of this process (fields 14 and 15), in the same clock ticks as /proc/stat.
  const own = self.slice(self.lastIndexOf(')') + 2).split(' ')
  return { idle, total: fields.reduce((a, b) => a + b, 0), self: Number(own[11]) + Number(own[12]) }
}

export interface CpuSample {
  at: number
  times: Promise<{ idle: number; total: number; self: number }>
}

/** The first reading of a CPU sample, taken early so the sample ends as soon as it is needed. */
export function startCpuSample(): CpuSample {
  return { at: Date.now(), times: cpuTimes() }
}

/**
 * Busy share of all cores over a short sample, not counting probe-ops itself: the other
 * checks start at the same moment, and their own work is not the host's load.
 */
export async function cpuUsage(sampleMs = 200, started?: CpuSample): Promise<CpuUsage> {
  const first = started ?? startCpuSample()
  const before = await first.times
  const wait = sampleMs - (Date.now() - first.at)
  if (wait > 0) await sleep(wait)
  const after = await cpuTimes()
  const total = after.total - before.total
  const busy = Math.max(0, total - (after.idle - before.idle) - (after.self - before.self))
  const [load1 = 0, load5 = 0, load15 = 0] = loadavg()
  return { cores: cpus().length, load1, load5, load15, usagePercent: total > 0 ? round1((busy / total) * 100) : 0 }
}

export interface MemoryUsage {
  totalBytes: number
  availableBytes: number
  usedPercent: number
  swapTotalBytes: number
  swapUsedPercent: number
}

export async function memoryUsage(): Promise<MemoryUsage> {
  const info: Record<string, number> = {}
  for (const line of (await readFile('/proc/meminfo', 'utf8')).split('\n')) {
    const match = /^(\w+):\s+(\d+)/.exec(line)
    if (match) info[match[1]!] = Number(match[2]) * 1024
  }
  const total = info.MemTotal ?? 0
  const available = info.MemAvailable ?? info.MemFree ?? 0
  const swapTotal = info.SwapTotal ?? 0
  const swapFree = info.SwapFree ?? 0
  return {
    totalBytes: total,
    availableBytes: available,
    usedPercent: total > 0 ? round1(((total - available) / total) * 100) : 0,
    swapTotalBytes: swapTotal,
    swapUsedPercent: swapTotal > 0 ? round1(((swapTotal - swapFree) / swapTotal) * 100) : 0,
  }
}

export interface DiskUsage {
  path: string
  mount?: string
  sizeBytes?: number
  freeBytes?: number
  usedPercent?: number
  error?: string
}

/** Whether two paths live on one filesystem (false when either cannot be seen). */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises')
  const [da, db] = await Promise.all(
    [a, b].map((p) =>
      stat(p).then(
        (s) => s.dev,
        () => undefined,
      ),
    ),
  )
  return da !== undefined && da === db
}

export async function diskUsage(path: string): Promise<DiskUsage> {
  // Its types describe the CommonJS build; under ESM the default export is the function itself.
  const checkDiskSpace = (await import('check-disk-space')).default as unknown as (path: string) => Promise<{ diskPath: string; free: number; size: number }>
  try {
    const disk = await checkDiskSpace(path)
    const used = disk.size - disk.free
    return { path, mount: disk.diskPath, sizeBytes: disk.size, freeBytes: disk.free, usedPercent: disk.size > 0 ? round1((used / disk.size) * 100) : 0 }
  } catch (error) {
    const name = (error as { name?: string }).name
    return { path, error: name === 'InvalidPathError' || name === 'NoMatchError' ? 'path does not exist' : describeError(error) }
  }
}
