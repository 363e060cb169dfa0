import { Args, Command, Flags } from '@oclif/core'
import { walPush } from '../../wal/main.js'

/**
 * PostgreSQL's archive_command. bin/run.js runs src/wal/main.ts for it without oclif; this class
 * gives it help, a place in the manifest, and the same entry when run through oclif (bin/dev.js).
 */
export default class WalPush extends Command {
  static override summary = "Archive one WAL file to every repository (PostgreSQL's archive_command: wal push %p)."
  static override description =
    'Compresses (backup.wal.compress), encrypts (backup.encryption) and stores the file under a key holding its sha256, in every repository. The same file again is a no-op; another file under the same name is refused and alerted (ProbeOpsWalConflict). Exit 0 only when every repository holds it, 1 otherwise (PostgreSQL keeps the segment and retries); bounded by backup.wal.pushTimeoutSeconds. Set up by probe-ops backup wal-setup --apply.'
  static override examples = ["archive_command = '<node> <probe-ops>/bin/run.js wal push %p --config /etc/network-probe/probe-ops.yaml'"]
  static override args = { path: Args.string({ description: "the file (PostgreSQL's %p)", required: true }) }
  static override flags = { config: Flags.string({ description: 'configuration file' }) }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(WalPush)
    this.exit(await walPush([args.path, ...(flags.config === undefined ? [] : ['--config', flags.config])]))
  }
}
