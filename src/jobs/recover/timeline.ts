/** What recover did and saw, each with its time: the on-call engineer's account of the recovery. */
export interface TimelineEntry {
  at: string
  /** Milliseconds since the service's recovery began. */
  elapsedMs: number
  event: string
  detail: string
}

export class Timeline {
  readonly entries: TimelineEntry[] = []
  readonly #started = performance.now()

  add(event: string, detail: string): void {
    this.entries.push({ at: new Date().toISOString(), elapsedMs: this.elapsedMs(), event, detail })
  }

  elapsedMs(): number {
    return Math.round(performance.now() - this.#started)
  }
}
