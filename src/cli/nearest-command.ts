/**
 * The command an unknown one was most likely meant as: the fewest single-character edits away
 * (Levenshtein), and close enough to be a typo rather than another word.
 */

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** `typed` and `known` as oclif ids (words joined by ':'; topics too); undefined when nothing is close. */
export function nearestCommand(typed: string, known: readonly string[]): string | undefined {
  let best: { id: string; distance: number } | undefined
  for (const id of known) {
    const distance = editDistance(typed, id)
    if (!best || distance < best.distance) best = { id, distance }
  }
  // A third of the word wrong is still a typo; more is a different word.
  return best && best.distance <= Math.max(2, Math.ceil(typed.length / 3)) ? best.id : undefined
}
