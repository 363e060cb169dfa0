/** `host`, `host:port`, `[v6]` or `[v6]:port`, as operators write endpoints in flags and config. */

export interface HostPort {
  /** A name or address, without the brackets of an IPv6 literal. */
  host: string
  port: number
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d+))?$/

/** The parsed endpoint, or a one-line reason why the text is not one. */
export function parseHostPort(text: string, defaultPort: number): HostPort | { error: string } {
  const trimmed = text.trim()
  const match = HOST_PORT.exec(trimmed)
  if (!match) {
    // A bare IPv6 address (::1) is ambiguous with a port: ask for brackets.
    if (/^[0-9a-fA-F:]+$/.test(trimmed) && trimmed.includes('::')) return { error: 'write an IPv6 address in brackets: [::1]:443' }
    return { error: 'expected HOST or HOST:PORT (IPv6 as [ADDRESS]:PORT)' }
  }
  const host = match[1] ?? match[2]!
  if (match[3] === undefined) return { host, port: defaultPort }
  const port = Number(match[3])
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `port ${match[3]} is not between 1 and 65535` }
  return { host, port }
}

/** host:port, with brackets around an IPv6 address. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}
