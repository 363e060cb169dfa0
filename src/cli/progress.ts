import type { StepResult } from '../report/model.js'

/** Live progress on stderr, so stdout stays the report alone. */
export interface Progress {
  onStepStart(step: { id: string; title: string }): void
  onStepEnd(result: StepResult): void
  finish(): Promise<void>
}

const silent: Progress = { onStepStart() {}, onStepEnd() {}, finish: async () => {} }

/** One line per finished step: what cron mails and journald keeps. */
function plainLines(command: string): Progress {
  return {
    onStepStart() {},
    onStepEnd(result) {
      if (result.status === 'skipped') return
      process.stderr.write(`[${command}] ${result.id}: ${result.status}: ${result.summary}\n`)
    },
    finish: async () => {},
  }
}

/** listr2 on a terminal; loaded only here so commands without a terminal never pay for it. */
async function liveTasks(steps: { id: string; title: string }[]): Promise<Progress> {
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2')
  const waiting = new Map<string, (result: StepResult) => void>()
  const results = new Map<string, Promise<StepResult>>()
  for (const step of steps) results.set(step.id, new Promise((resolve) => waiting.set(step.id, resolve)))
  const output = new ProcessOutput(process.stderr, process.stderr)
  const list = new Listr(
    steps.map((step) => ({
      title: step.title,
      task: async (_: unknown, task: { title: string; skip(message?: string): void }) => {
        const result = await results.get(step.id)!
        task.title = `${step.title}: ${result.summary}${result.status === 'warning' ? ' (warning)' : ''}`
        if (result.status === 'skipped') task.skip(`${step.title}: ${result.summary}`)
        if (result.status === 'failed') throw new Error(`${step.title}: ${result.summary}`)
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      // Its own Ctrl-C handler exits on the spot, swap or no swap: the job command handles signals.
      registerSignalListeners: false,
      collectErrors: false,
      rendererOptions: { logger: new ListrLogger({ processOutput: output }), collapseErrors: false, showErrorMessage: true },
    },
  )
  const running = list.run().catch(() => undefined)
  return {
    onStepStart() {},
    onStepEnd(result) {
      waiting.get(result.id)?.(result)
    },
    finish: async () => {
      await running
    },
  }
}

export async function createProgress(command: string, steps: { id: string; title: string }[], json: boolean): Promise<Progress> {
  if (process.stderr.isTTY && !process.env.CI) return liveTasks(steps)
  if (json) return silent
  return plainLines(command)
}
