/**
 * Tests prove that a kill at the worst moment loses nothing; a failpoint is that moment, named.
 * PROBE_OPS_FAILPOINT=<name> kills the process there with SIGKILL, as `kill -9` would.
 */
export function failpoint(name: string): void {
  if (process.env.PROBE_OPS_FAILPOINT === name) process.kill(process.pid, 'SIGKILL')
}
