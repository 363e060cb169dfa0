import { Args, Command, Flags } from '@oclif/core'
import { FETCH_UNKNOWN, walFetch } from '../../wal/main.js'

/**
 * PostgreSQL's restore_command. bin/run.js runs src/wal/main.ts for it without oclif; this class
 * gives it help and a place in the manifest. Every failure of its own, a parse error included,
 * is exit 128: any code from 1 to 125 would make PostgreSQL end recovery as if the file were not archived.
 */
export default class WalFetch extends Command {
  static override summary = "Restore one WAL file from the first repository with a good copy (PostgreSQL's restore_command: wal fetch %f %p)."
  static override description =
    'Reads the repositories in configuration order, decrypts (backup.encryption.identityFile), decompresses and checks the sha256 in the key, then writes the file atomically. Exit 0 restored; 1 when every repository answered and none has it (recovery ends there); 128 for anything else (an unreachable repository, only damaged copies, the wrong identity, a bad configuration), which stops recovery instead of ending it early. Bounded by backup.wal.pushTimeoutSeconds.'
  static override examples = ["restore_command = '<node> <probe-ops>/bin/run.js wal fetch %f %p --config /etc/network-probe/probe-ops.yaml'"]
  static override args = {
    name: Args.string({ description: "the file's name (PostgreSQL's %f)", required: true }),
    path: Args.string({ description: "where to write it (PostgreSQL's %p)", required: true }),
  }
  static override flags = { config: Flags.string({ description: 'configuration file' }) }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(WalFetch)
    this.exit(await walFetch([args.name, args.path, ...(flags.config === undefined ? [] : ['--config', flags.config])]))
  }

  protected override async catch(error: Error & { oclif?: { exit?: number } }): Promise<void> {
    // this.exit() throws to end the run: its code stands.
    if (error.oclif?.exit !== undefined && error.message.startsWith('EEXIT')) throw error
    process.stderr.write(`probe-ops: wal fetch: ${error.message.split('\n')[0]}\n`)
    this.exit(FETCH_UNKNOWN)
  }
}
