import { readFile } from 'node:fs/promises'
import { forEachOpenDescriptor } from './proc-fds.js'

/**
 * Listening sockets of this machine (of probe-ops' network namespace), read from /proc/net
 * the way `ss -tuln` does, with the owning process found through /proc/PID/fd (proc-fds.ts).
 */

export interface ListeningSocket {
  protocol: 'tcp' | 'udp'
  family: 4 | 6
  /** 0.0.0.0, 127.0.0.1, ::, ::1, ... */
  address: string
  port: number
  /** Reachable from loopback only. */
  loopback: boolean
  inode: number
  pid?: number
  process?: string
}

const TCP_LISTEN = '0A'
/** An unconnected UDP socket (TCP_CLOSE with no remote): bound and receiving. */
const UDP_UNCONNECTED = '07'

function ipv4FromHex(hex: string): string {
  // One 32-bit word in host (little-endian) byte order.
  const bytes = hex.match(/../g)!.map((b) => Number.parseInt(b, 16))
  return bytes.reverse().join('.')
}

/** RFC 5952 text of 8 16-bit groups: lower case, the longest run of zero groups as "::". */
export function formatIpv6(groups: number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`
  }
  let best = { start: -1, length: 0 }
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.start < 0) return hex.join(':')
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`
}

function ipv6FromHex(hex: string): string {
  // Four 32-bit words, each in host (little-endian) byte order.
  const bytes: number[] = []
  for (let w = 0; w < 4; w++) {
    const word = hex
      .slice(w * 8, w * 8 + 8)
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16))
    bytes.push(...word.reverse())
  }
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  return formatIpv6(groups)
}

export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}

/** The listening sockets in the text of /proc/net/{tcp,tcp6,udp,udp6}. */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', family: 4 | 6): ListeningSocket[] {
  const sockets: ListeningSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 10) continue
    const [local, remote, state, , , , , , inode] = fields.slice(1)
    if (protocol === 'tcp' ? state !== TCP_LISTEN : state !== UDP_UNCONNECTED || !/^0+:0000$/.test(remote!)) continue
    const [addressHex, portHex] = local!.split(':') as [string, string]
    const address = family === 4 ? ipv4FromHex(addressHex) : ipv6FromHex(addressHex)
    sockets.push({ protocol, family, address, port: Number.parseInt(portHex, 16), loopback: isLoopback(address), inode: Number(inode) })
  }
  return sockets
}

/** The process that holds each socket inode, from /proc/PID/fd (all of them when run as root). */
export async function socketOwners(inodes: Set<number>): Promise<Map<number, { pid: number; process: string }>> {
  const owners = new Map<number, { pid: number; process: string }>()
  if (inodes.size === 0) return owners
  await forEachOpenDescriptor(async ({ pid, target }) => {
    const match = /^socket:\[(\d+)\]$/.exec(target)
    if (!match) return
    const inode = Number(match[1])
    if (!inodes.has(inode) || owners.has(inode)) return
    const process = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()
    owners.set(inode, { pid: Number(pid), process })
  })
  return owners
}

/**
 * Every listening TCP socket and bound UDP socket, one per protocol, address and port (sockets
 * shared with SO_REUSEPORT collapse), with its process where it can be found.
 */
export async function listeningSockets(): Promise<ListeningSocket[]> {
  const tables = [
    ['tcp', 4, '/proc/net/tcp'],
    ['tcp', 6, '/proc/net/tcp6'],
    ['udp', 4, '/proc/net/udp'],
    ['udp', 6, '/proc/net/udp6'],
  ] as const
  const all: ListeningSocket[] = []
  for (const [protocol, family, path] of tables) {
    const text = await readFile(path, 'utf8').catch(() => '')
    all.push(...parseProcNet(text, protocol, family))
  }
  const unique = new Map<string, ListeningSocket>()
  for (const s of all) {
    const key = `${s.protocol} ${s.address} ${s.port}`
    if (!unique.has(key)) unique.set(key, s)
  }
  const sockets = [...unique.values()]
  const owners = await socketOwners(new Set(all.map((s) => s.inode)))
  for (const s of sockets) {
    const owner =
      owners.get(s.inode) ??
      all
        .filter((o) => o.protocol === s.protocol && o.address === s.address && o.port === s.port)
        .map((o) => owners.get(o.inode))
        .find(Boolean)
    if (owner) Object.assign(s, owner)
  }
  return sockets.sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port || a.address.localeCompare(b.address))
}
