/** Markdown tables, escaped just enough for command lines in cells. */

export function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: ReadonlyArray<'l' | 'r'>): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'))
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n')
}

export function code(text: string): string {
  return `\`${text.replaceAll('`', '\\`')}\``
}
