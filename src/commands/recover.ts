import { Args, Flags } from '@oclif/core'
import { defineJobCommand } from '../cli/define-job-command.js'
import { changeFlags } from '../cli/job-command.js'
import { recoverOptions } from '../jobs/recover/context.js'
import { recover } from '../jobs/recover/spec.js'

export default defineJobCommand(recover, {
  summary: 'Bring services back, dependencies first, and prove they are serving.',
  description: {
    intro: `Replaces service-recovery.sh. Looks first (state, readiness, restarts, recent log errors); a ready service is left alone unless --force. Unready dependencies are recovered first (management depends on postgres and redis); --force applies only to the services named, never to a ready dependency. Then a stopped service is started or a running one restarted through its runtime (Docker, systemd or process), and recover waits for real readiness: PostgreSQL answering SELECT 1, Redis answering PING, an HTTP health URL answering 2xx. If it is not ready in time it is stopped and started once more; if that fails too, the report holds the log tail and the runtime's error, and an alert goes to AlertManager. While it works, a silence covers the service's alerts. A crash-looping service is not restarted again without --force, and PostgreSQL not without its data directory.
With no service (or --all), recovers every service that is not ready, in dependency order.`,
    outro: "A service whose dependency could not be recovered is not restarted. Takes the job's lock: a second run exits 3.",
  },
  examples: [
    '<%= config.bin %> recover postgres',
    '<%= config.bin %> recover management --dry-run',
    '<%= config.bin %> recover --all --json',
    '<%= config.bin %> recover redis --force',
  ],
  strict: false,
  args: { service: Args.string({ description: 'service to recover (default: every service that is not ready)' }) },
  flags: {
    ...changeFlags,
    all: Flags.boolean({ description: 'recover every service that is not ready' }),
    force: Flags.boolean({ description: 'restart the services named even when ready, or in a crash loop (ready dependencies are left alone)' }),
  },
  options: ({ flags, argv }) => recoverOptions({ services: argv, all: flags.all, force: flags.force }),
})
