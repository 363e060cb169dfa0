import { Args, Flags } from '@oclif/core'
import { JobCommand, changeFlags, jobFlags } from '../cli/job-command.js'
import { UsageError } from '../errors.js'
import { recoverJob } from '../jobs/recover/job.js'
import type { Report } from '../report/model.js'

export default class Recover extends JobCommand {
  static override summary = 'Bring services back, dependencies first, and prove they are serving.'
  static override description = `Replaces service-recovery.sh. Looks first (state, readiness, restarts, recent log errors); a ready service is left alone unless --force. Unready dependencies are recovered first (management depends on postgres and redis); --force applies only to the services named, never to a ready dependency. Then a stopped service is started or a running one restarted through its runtime (Docker, systemd or process), and recover waits for real readiness: PostgreSQL answering SELECT 1, Redis answering PING, an HTTP health URL answering 2xx. If it is not ready in time it is stopped and started once more; if that fails too, the report holds the log tail and the runtime's error, and an alert goes to AlertManager. While it works, a silence covers the service's alerts. A crash-looping service is not restarted again without --force, and PostgreSQL not without its data directory.
With no service (or --all), recovers every service that is not ready, in dependency order.`
  static override examples = [
    '<%= config.bin %> recover postgres',
    '<%= config.bin %> recover management --dry-run',
    '<%= config.bin %> recover --all --json',
    '<%= config.bin %> recover redis --force',
  ]
  static override strict = false
  static override args = { service: Args.string({ description: 'service to recover (default: every service that is not ready)' }) }
  static override flags = {
    ...jobFlags,
    ...changeFlags,
    all: Flags.boolean({ description: 'recover every service that is not ready' }),
    force: Flags.boolean({ description: 'restart the services named even when ready, or in a crash loop (ready dependencies are left alone)' }),
  }

  async run(): Promise<Report> {
    const { flags, argv } = await this.parse(Recover)
    const services = argv as string[]
    if (flags.all && services.length > 0) throw new UsageError('give services or --all, not both', 'probe-ops recover postgres, or probe-ops recover --all')
    return this.runPlanned(flags, (config) => ({ ...recoverJob(config, services, flags.force), lock: 'recover' }))
  }
}
