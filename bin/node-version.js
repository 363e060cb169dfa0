/**
 * The oldest Node.js probe-ops runs on: 22.15, the first Node 22 with zstd in node:zlib (WAL
 * segments and base backups are zstd). Plain JavaScript with no imports: it runs before anything
 * that an older Node could fail to load.
 */
export const MINIMUM_NODE = '22.15.0'

/** Whether a Node.js version ("22.12.0", as process.versions.node gives it) is older than the minimum. */
export function nodeTooOld(version) {
  const [major, minor] = version.split('.').map(Number)
  const [needMajor, needMinor] = MINIMUM_NODE.split('.').map(Number)
  return major < needMajor || (major === needMajor && minor < needMinor)
}
