import { defineJobCommand } from '../cli/define-job-command.js'
import { durationFlag, durationOf } from '../cli/duration-flag.js'
import { RANGES } from '../config/ranges.js'
import { diagnose } from '../jobs/diagnose/spec.js'

export default defineJobCommand(diagnose, {
  summary: 'Check the whole platform at once and say what to do about each problem.',
  description: {
    intro:
      "Host resources, service state, HTTP/PostgreSQL/Redis reachability, recent errors in service logs (every host's through Loki when loki.url is set), database and Redis figures, the alerts AlertManager has firing, the monitoring stack itself (Prometheus targets and rules, the exporters, AlertManager's receivers, Loki), the agents in trouble, and the backups (the newest of each kind in every repository against backup.maxAge, their last verification, PostgreSQL's WAL archiver, restores waiting for --cleanup). Every check runs concurrently with its own timeout, so a hung dependency is a red line, never a hang. Changes nothing.",
  },
  examples: [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --only postgres,redis',
    '<%= config.bin %> diagnose --only backups --json > /dev/null',
    '<%= config.bin %> diagnose --since 6h --json > diagnose.json',
    '<%= config.bin %> diagnose --check-timeout 2',
  ],
  flags: {
    since: durationFlag('how far back to read service logs for errors: 30m, 1h, 2d, 1w (default: diagnose.since, 1h)'),
    'check-timeout': durationFlag('how long each check may take, in seconds or as 500ms, 2m (at most 1h; default: diagnose.checkTimeoutSeconds, 5)'),
  },
  options: ({ flags }) => ({
    sinceMs: durationOf(flags.since, 'since', RANGES.since),
    checkTimeoutMs: durationOf(flags['check-timeout'], 'check-timeout', RANGES.check),
  }),
})
