/**
 * The PostgreSQL settings `backup wal-setup` wants (design-14 §4.3): archive_command and
 * restore_command run `probe-ops wal push|fetch` with absolute paths (PostgreSQL runs them in its
 * data directory, with its own PATH, where Debian's `node` may be 18), and archive_timeout bounds
 * what an idle database can lose. Pure: the job reads and writes pg_settings.
 */

export interface WalCommandSettings {
  /** backup.wal.command: the program PostgreSQL runs, as its words; empty: this Node and this probe-ops. */
  command: readonly string[]
  /** The configuration file in effect, passed on (--config); null: the defaults, found the same way. */
  configPath: string | null
  archiveTimeoutSeconds: number
}

export interface WalSettings {
  walLevel: string
  archiveMode: string
  archiveCommand: string
  restoreCommand: string
  archiveTimeout: string
  /** Settings changed but waiting for a restart. */
  pendingRestart: string[]
  /** Where each setting comes from (pg_settings.source): 'configuration file', 'command line', … */
  sources: Record<string, string>
}

export interface WalChange {
  name: string
  from: string
  to: string
  needsRestart: boolean
}

/** The settings of a configuration: backup.wal and the file it was read from. */
export function walCommandSettings(config: {
  source: string | null
  backup: { wal: { command: readonly string[]; archiveTimeoutSeconds: number } }
}): WalCommandSettings {
  return { command: config.backup.wal.command, configPath: config.source, archiveTimeoutSeconds: config.backup.wal.archiveTimeoutSeconds }
}

/** One word for PostgreSQL's shell: bare when it is plain, else single-quoted; % doubled (PostgreSQL's own escape). */
export function shellWord(word: string): string {
  const escaped = word.replace(/%/g, '%%')
  return /^[A-Za-z0-9_/.,:=+@%-]+$/.test(escaped) ? escaped : `'${escaped.replace(/'/g, `'\\''`)}'`
}

/** The program PostgreSQL runs, as its words: backup.wal.command, else `defaultCommand`. */
export function walProgram(settings: Pick<WalCommandSettings, 'command'>, defaultCommand: readonly string[]): readonly string[] {
  return settings.command.length > 0 ? settings.command : defaultCommand
}

function probeOps(settings: WalCommandSettings, defaultCommand: readonly string[]): string {
  return walProgram(settings, defaultCommand).map(shellWord).join(' ')
}

function withConfig(settings: WalCommandSettings): string {
  return settings.configPath === null ? '' : ` --config ${shellWord(settings.configPath)}`
}

/** archive_command and restore_command for these settings; `defaultCommand` is [node, bin/run.js] of this run. */
export function walCommands(settings: WalCommandSettings, defaultCommand: readonly string[]): { archive: string; restore: string } {
  const program = probeOps(settings, defaultCommand)
  return {
    archive: `${program} wal push %p${withConfig(settings)}`,
    restore: `${program} wal fetch %f %p${withConfig(settings)}`,
  }
}

/** What differs from what archiving through probe-ops needs. */
export function wantedChanges(current: WalSettings, settings: WalCommandSettings, defaultCommand: readonly string[]): WalChange[] {
  const commands = walCommands(settings, defaultCommand)
  const changes: WalChange[] = []
  if (current.walLevel === 'minimal') changes.push({ name: 'wal_level', from: current.walLevel, to: 'replica', needsRestart: true })
  if (current.archiveMode !== 'on' && current.archiveMode !== 'always')
    changes.push({ name: 'archive_mode', from: current.archiveMode, to: 'on', needsRestart: true })
  if (current.archiveCommand !== commands.archive)
    changes.push({ name: 'archive_command', from: current.archiveCommand, to: commands.archive, needsRestart: false })
  if (current.restoreCommand !== commands.restore)
    changes.push({ name: 'restore_command', from: current.restoreCommand, to: commands.restore, needsRestart: false })
  const timeout = settings.archiveTimeoutSeconds
  if (current.archiveTimeout === '0' || Number(current.archiveTimeout) > timeout)
    changes.push({ name: 'archive_timeout', from: current.archiveTimeout, to: String(timeout), needsRestart: false })
  return changes
}

/** Sources ALTER SYSTEM cannot override (design-14 §1.6: a -c on the command line wins even after a reload). */
const FIXED_SOURCES: Record<string, string> = {
  'command line': "PostgreSQL's command line (-c)",
  'environment variable': 'an environment variable of the server',
  override: 'a server override',
}

/** Why ALTER SYSTEM cannot make a change, or undefined. */
export function fixedBy(change: WalChange, current: WalSettings): string | undefined {
  const source = current.sources[change.name]
  const where = source === undefined ? undefined : FIXED_SOURCES[source]
  return where && `${change.name} is set on ${where}: change it there`
}

/** A setting's value by its PostgreSQL name. */
export function settingValue(settings: WalSettings, name: string): string | undefined {
  const values: Record<string, string> = {
    wal_level: settings.walLevel,
    archive_mode: settings.archiveMode,
    archive_command: settings.archiveCommand,
    restore_command: settings.restoreCommand,
    archive_timeout: settings.archiveTimeout,
  }
  return values[name]
}

/** This Node and this probe-ops' bin/run.js: what PostgreSQL runs unless backup.wal.command says otherwise. */
export function defaultWalCommand(): string[] {
  return [process.execPath, new URL('../../bin/run.js', import.meta.url).pathname]
}
