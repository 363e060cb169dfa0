/** "1 backup", "2 backups", "1,204 errors": a count and its noun, agreeing. */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? word : many}`
}
