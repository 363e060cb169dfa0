import { Flags } from '@oclif/core'

/** `--dir`, the directory that holds the sandbox, which every sandbox command takes. */
export function sandboxDirFlag(description = 'directory that holds the sandbox') {
  return Flags.string({ char: 'd', description, default: './.sandbox', env: 'PROBE_OPS_SANDBOX_DIR' })
}
