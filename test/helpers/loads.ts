import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tempDir } from './temp.js'

const HOOK = resolve(import.meta.dirname, 'trace-loads.mjs')

/** One module the traced process loaded, and how it was asked for. */
export interface Load {
  how: 'import' | 'require'
  specifier: string
  url: string
}

/** The environment that makes a CLI run (runCli) record what it loads; read it back with readLoads(). */
export function traceLoads(): { env: Record<string, string>; read(): Loads } {
  const file = join(tempDir('po-loads'), 'loads.txt')
  return { env: { NODE_OPTIONS: `--import ${HOOK}`, TRACE_LOADS_FILE: file }, read: () => new Loads(readFileSync(file, 'utf8')) }
}

export class Loads {
  readonly all: Load[]

  constructor(text: string) {
    this.all = text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [how, specifier, url] = line.split(' ') as ['import' | 'require', string, string]
        return { how, specifier, url }
      })
  }

  /** The npm packages loaded (scoped ones as @scope/name), each once. */
  packages(how?: Load['how']): string[] {
    const names = this.all.filter((l) => !how || l.how === how).map((l) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(l.url)?.[1])
    return [...new Set(names.filter((name) => name !== undefined))].sort()
  }

  /** probe-ops' own modules loaded, as paths under dist/ (systems/docker.js). */
  ownModules(): string[] {
    const own = this.all.filter((l) => !l.url.includes('/node_modules/')).map((l) => /\/dist\/(.+\.js)$/.exec(l.url)?.[1])
    return [...new Set(own.filter((path) => path !== undefined))].sort()
  }
}
