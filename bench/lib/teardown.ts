/**
 * Everything the bench starts registers how to stop it here, at once; `run()` stops it all in
 * reverse order, once, whether the bench finished, failed or was interrupted.
 */
export class Teardown {
  private readonly steps: Array<{ name: string; fn: () => Promise<void> }> = []
  private running: Promise<string[]> | undefined

  constructor(private readonly log: (line: string) => void) {}

  add(name: string, fn: () => Promise<void>): void {
    this.steps.push({ name, fn })
  }

  /** Stops everything (reverse order of `add`); resolves to the problems met, never rejects. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const problems: string[] = []
      while (this.steps.length > 0) {
        const { name, fn } = this.steps.pop()!
        this.log(`teardown: ${name}`)
        try {
          await fn()
        } catch (err) {
          problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      return problems
    })()
    return this.running
  }
}
