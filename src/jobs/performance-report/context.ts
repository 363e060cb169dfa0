import type { Config } from '../../config/load.js'

/** What the performance steps take: the configuration (postgres, prometheus, performance). */
export interface PerformanceContext {
  config: Config
}

export interface Problem {
  severity: 'warning' | 'failed'
  message: string
  next: string
}

/** Whitespace collapsed and cut, so a statement fits a report line. */
export function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}
