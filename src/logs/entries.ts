/**
 * What a service's log lines say, read by the log's own structure: a JSON record's level field,
 * PostgreSQL's severity after its line prefix, Redis's level mark, nginx's and gunicorn's
 * bracketed level, a leading level word; only a line with none of these is judged by its words.
 * Lines that continue an entry (PostgreSQL's DETAIL/STATEMENT and tab-indented text, a Python
 * traceback, indented stack frames) belong to the entry above them and are never counted alone.
 *
 * Pure: lines in, entries out. diagnose reads the lines from Docker, journald or a file; a Loki
 * query's lines go through the same functions.
 */

/** One line as a source gave it, with the time the source recorded when it did. */
export interface LogLine {
  text: string
  /** Milliseconds since the epoch. */
  at?: number
}

export type Level = 'error' | 'warning' | 'other'

/** The structure a line was read by: `text` means it has none, and its words decided. */
export type Structure = 'json' | 'logfmt' | 'postgres' | 'redis' | 'access' | 'leveled' | 'traceback' | 'text'

export interface LogEntry {
  level: Level
  structure: Structure
  /** As written: the first line, then the lines that continue it. */
  lines: string[]
  /** When its first line was written, when known. */
  at?: number
  /** The first line's message without its prefix (time, pid, host): what repeats share. */
  message: string
  /** The exception line that ends a Python traceback in the entry (`ValueError: bad input`). */
  exception?: string
  /** Continuation lines whose entry began before the lines read: shown, never counted. */
  orphan?: true
}

const LEVEL_NAMES: Record<string, Level> = {
  error: 'error',
  err: 'error',
  eror: 'error',
  critical: 'error',
  crit: 'error',
  fatal: 'error',
  alert: 'error',
  emerg: 'error',
  emergency: 'error',
  panic: 'error',
  dpanic: 'error',
  severe: 'error',
  warn: 'warning',
  warning: 'warning',
}

/** A level as loggers name it (ERROR, warn, crit, eror...). Anything not an error or a warning is other. */
export function levelOfName(name: string): Level {
  return LEVEL_NAMES[name.toLowerCase()] ?? 'other'
}

/**
 * A numeric level: pino and bunyan write 10-60 (50 error, 60 fatal, 40 warn); GELF and syslog
 * severities are 0-7 (3 error and below, 4 warning).
 */
export function levelOfNumber(value: number): Level {
  if (value >= 10) return value >= 50 ? 'error' : value >= 40 ? 'warning' : 'other'
  return value <= 3 ? 'error' : value === 4 ? 'warning' : 'other'
}

/** The plain-text rule for lines that carry no level of their own. */
const ERROR_WORD = /\b(error|fatal|panic|critical|exception|traceback)\b/i

function byWords(text: string): Level {
  return ERROR_WORD.test(text) ? 'error' : 'other'
}

// --- JSON lines --------------------------------------------------------------------------------

const JSON_LEVEL_FIELDS = ['level', 'levelname', 'severity', 'log.level', 'error_severity', 'lvl', 'loglevel'] as const
const JSON_MESSAGE_FIELDS = ['message', 'msg', 'event', 'short_message'] as const
const JSON_LOGGER_FIELDS = ['logger', 'name', 'module', 'logger_name'] as const
/** Fields a record without a level carries only when something failed. */
const JSON_FAILURE_FIELDS = ['err', 'error', 'exception', 'exc_info', 'stack_trace'] as const

function field(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name]
  // ECS writes log.level nested as well as dotted.
  const [head, tail] = name.split('.')
  const nested = tail ? record[head!] : undefined
  return nested && typeof nested === 'object' ? (nested as Record<string, unknown>)[tail!] : undefined
}

function firstString(record: Record<string, unknown>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = field(record, name)
    if (typeof value === 'string' && value) return value
  }
  return undefined
}

function readJson(text: string): Reading | undefined {
  if (!text.startsWith('{')) return undefined
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!record || typeof record !== 'object' || Array.isArray(record)) return undefined
  const fields = record as Record<string, unknown>
  const message = firstString(fields, JSON_MESSAGE_FIELDS) ?? ''
  const logger = firstString(fields, JSON_LOGGER_FIELDS) ?? ''
  for (const name of JSON_LEVEL_FIELDS) {
    const value = field(fields, name)
    if (typeof value === 'number') return { level: levelOfNumber(value), structure: 'json', message: `${value} ${logger} ${message}` }
    if (typeof value === 'string' && value) {
      // pino's and bunyan's numbers sometimes arrive as strings ("50").
      const level = /^\d+$/.test(value) ? levelOfNumber(Number(value)) : levelOfName(value)
      return { level, structure: 'json', message: `${value} ${logger} ${message}` }
    }
  }
  // No level: the words of the message (never of the logger's name), or a failure's own field.
  const failed = JSON_FAILURE_FIELDS.some((name) => {
    const value = fields[name]
    return value !== undefined && value !== null && value !== '' && value !== false
  })
  return { level: failed ? 'error' : byWords(message), structure: 'json', message: `${logger} ${message}` }
}

// --- PostgreSQL --------------------------------------------------------------------------------

/**
 * `<log_line_prefix>SEVERITY:  message`: PostgreSQL always writes two spaces after the colon,
 * whatever the prefix (`%m [%p] `, `%t [%p]: [%l-1] user=%u,db=%d `, `< %m >`, none).
 */
const POSTGRES_LINE = /^(.{0,200}?)\b(DEBUG[1-5]?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT): {2}(\S.*)$/
const POSTGRES_LEVELS: Record<string, Level> = { ERROR: 'error', FATAL: 'error', PANIC: 'error', WARNING: 'warning' }
/** Lines PostgreSQL writes under the message they explain. */
const POSTGRES_CONTINUATIONS = new Set(['DETAIL', 'HINT', 'QUERY', 'CONTEXT', 'LOCATION', 'STATEMENT'])

/** PostgreSQL's line, when it is one; the two spaces are a cheap test before the regex. */
function postgresLine(text: string): RegExpExecArray | null {
  return text.includes(':  ') ? POSTGRES_LINE.exec(text) : null
}

function readPostgres(match: RegExpExecArray): Reading {
  const severity = match[2]!
  return { level: POSTGRES_LEVELS[severity] ?? 'other', structure: 'postgres', message: `${severity}: ${match[3]}` }
}

// --- Redis -------------------------------------------------------------------------------------

/** `pid:role dd Mon yyyy hh:mm:ss.mmm MARK message` (Redis 3+), `[pid] dd Mon hh:mm:ss.mmm MARK message` (older). */
const REDIS_LINE = /^(?:\d+:[XCSM] \d{1,2} [A-Z][a-z]{2} \d{4}|\[\d+\] \d{1,2} [A-Z][a-z]{2}) \d{2}:\d{2}:\d{2}(?:\.\d+)? ([.\-*#]) (.*)$/

// --- Access logs -------------------------------------------------------------------------------

/**
 * Common and combined log format (nginx, Apache, gunicorn's access log): a record of a request,
 * not a level. A failed request is the service's own error log's to report (and diagnose's
 * http step's to see), so an access line is never an error, whatever its URL says.
 */
const ACCESS_LINE = /^\S+ \S+ \S+ \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "[^"]*" \d{3} /

// --- Levels in text ----------------------------------------------------------------------------

const LEVEL_WORDS = 'TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|ALERT|EMERG|PANIC|SEVERE'
/** `[error]` (nginx), `[core:error]` (Apache), `[ERROR]` (gunicorn), near the start of the line. */
const BRACKETED_LEVEL = new RegExp(`^(.{0,80}?)\\[(?:[\\w-]+:)?(${LEVEL_WORDS})\\]\\s*(.*)$`, 'i')
/** logfmt: `level=error`, `lvl=eror` (Prometheus, AlertManager, Loki, Grafana, logrus). */
const LOGFMT_LEVEL = /(?:^|\s)(?:level|lvl|severity)=("?)([A-Za-z]+)\1(?=\s|$)/
const LOGFMT_MESSAGE = /(?:^|\s)msg=(?:"((?:[^"\\]|\\.)*)"|(\S+))/
/** klog/glog: `E1125 10:00:00.123456   12 file.go:42] message`. */
const KLOG_LINE = /^([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [^\]\s]+\] (.*)$/
const KLOG_LEVELS: Record<string, Level> = { E: 'error', F: 'error', W: 'warning' }
/** zap's console encoder: `time<TAB>level<TAB>...`. */
const ZAP_LINE = /^\S+\t(debug|info|warn|error|dpanic|panic|fatal)\t(.*)$/
/**
 * A level word in capitals as a line's prefix writes it: `INFO:     Started` (uvicorn),
 * `ERROR:root:boom` (Python), `2026-11-25 10:00:00,123 WARNING app: ...`, `[12: ERROR/MainProcess]`
 * (Celery). The first such word decides: `INFO:uvicorn.error:...` is INFO.
 */
const LEADING_LEVEL = new RegExp(`^(.{0,80}?)(?<![\\w./-])(${LEVEL_WORDS})(?![\\w.])[:\\]]?\\s*(.*)$`)

const CAPITALS = /[A-Z]{3}/

/** A time at the start of a line, in the formats services write; left out of the message. */
const LEADING_TIME =
  /^\[?(?:\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT))?|[A-Z][a-z]{2}\s+\d{1,2} \d{2}:\d{2}:\d{2})\]?\s*/

interface Reading {
  level: Level
  structure: Structure
  message: string
}

function readText(text: string): Reading {
  const redis = REDIS_LINE.exec(text)
  // Redis has no error mark: `#` is its warning, the most it says.
  if (redis) return { level: redis[1] === '#' ? 'warning' : 'other', structure: 'redis', message: redis[2]! }
  if (ACCESS_LINE.test(text)) return { level: 'other', structure: 'access', message: text }
  const klog = KLOG_LINE.exec(text)
  if (klog) return { level: KLOG_LEVELS[klog[1]!] ?? 'other', structure: 'leveled', message: klog[2]! }
  const logfmt = LOGFMT_LEVEL.exec(text)
  if (logfmt) {
    const message = LOGFMT_MESSAGE.exec(text)
    return { level: levelOfName(logfmt[2]!), structure: 'logfmt', message: `${logfmt[2]} ${message?.[1] ?? message?.[2] ?? text}` }
  }
  const zap = ZAP_LINE.exec(text)
  if (zap) return { level: levelOfName(zap[1]!), structure: 'leveled', message: `${zap[1]} ${zap[2]}` }
  // The level word nearest the start decides, bracketed or not. The cheap tests go first: most
  // lines of a busy log have neither a bracket nor a word in capitals.
  const bracketed = text.includes('[') ? BRACKETED_LEVEL.exec(text) : null
  const leading = CAPITALS.test(text.slice(0, 100)) ? LEADING_LEVEL.exec(text) : null
  const level = [bracketed, leading].filter((m) => m !== null).sort((a, b) => a[1]!.length - b[1]!.length)[0]
  if (level) return { level: levelOfName(level[2]!), structure: 'leveled', message: `${level[2]} ${level[3]}` }
  return { level: byWords(text), structure: 'text', message: text.replace(LEADING_TIME, '') }
}

function readLine(text: string): Reading {
  const json = readJson(text)
  if (json) return json
  const postgres = postgresLine(text)
  if (postgres) return readPostgres(postgres)
  return readText(text)
}

/** Indented text continues the entry above: SQL PostgreSQL wrote after a tab, stack frames. */
const INDENTED = /^\s/

function continues(text: string): boolean {
  if (INDENTED.test(text)) return true
  const postgres = postgresLine(text)
  return postgres !== null && POSTGRES_CONTINUATIONS.has(postgres[2]!)
}

// --- Python tracebacks -------------------------------------------------------------------------

const TRACEBACK = /^Traceback \(most recent call last\):\s*$/
/** uvicorn logs a lifespan failure as `ERROR:    Traceback (most recent call last):`. */
const LOGGED_TRACEBACK = /Traceback \(most recent call last\):\s*$/
/** The line that joins chained exceptions in one traceback. */
const TRACEBACK_CHAIN =
  /^(During handling of the above exception, another exception occurred|The above exception was the direct cause of the following exception):\s*$/

/** Where a traceback being read is: in its frames, at its end, or between chained exceptions. */
type TracebackState = 'frames' | 'ended' | 'chained' | undefined

/**
 * Splits lines into entries, each with its level. A Python traceback is one entry: its frames,
 * its exception line and chained tracebacks; it belongs to the warning or error logged just
 * before it (logging's exc_info), else it is an error of its own (an uncaught exception).
 */
export function logEntries(lines: readonly LogLine[]): LogEntry[] {
  const entries: LogEntry[] = []
  let open: LogEntry | undefined
  let traceback: TracebackState
  const start = (entry: LogEntry) => {
    entries.push(entry)
    open = entry
  }
  for (const { text, at } of lines) {
    if (open && traceback) {
      const next = nextTracebackState(traceback, text)
      if (next) {
        open.lines.push(text)
        if (traceback === 'frames' && next === 'ended') open.exception = text.trim()
        traceback = next
        continue
      }
      traceback = undefined
    }
    if (TRACEBACK.test(text)) {
      if (open && !open.orphan && open.level !== 'other' && open.structure !== 'traceback' && !open.exception) open.lines.push(text)
      else start({ level: 'error', structure: 'traceback', lines: [text], at, message: text })
      traceback = 'frames'
      continue
    }
    if (continues(text)) {
      if (open) open.lines.push(text)
      else start({ level: 'other', structure: 'text', lines: [text], at, message: text.trim(), orphan: true })
      continue
    }
    const reading = readLine(text)
    start({ ...reading, lines: [text], at })
    if (LOGGED_TRACEBACK.test(text)) traceback = 'frames'
  }
  for (const entry of entries) if (entry.structure === 'traceback' && entry.exception) entry.message = entry.exception
  return entries
}

/**
 * After the exception line, lines with no structure of their own (no time, no level) are the rest
 * of the exception's message: SQLAlchemy's `[SQL: ...]` and `(Background on this error at: ...)`.
 */
function nextTracebackState(state: Exclude<TracebackState, undefined>, text: string): TracebackState {
  if (state === 'frames') return INDENTED.test(text) ? 'frames' : 'ended'
  if (state === 'chained') return TRACEBACK.test(text) ? 'frames' : undefined
  if (TRACEBACK_CHAIN.test(text)) return 'chained'
  if (TRACEBACK.test(text)) return undefined
  if (continues(text)) return 'ended'
  return readLine(text).structure === 'text' && !LEADING_TIME.test(text) ? 'ended' : undefined
}

// --- Time --------------------------------------------------------------------------------------

const ISO_PREFIX = /^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s?(Z|[+-]\d{2}:?\d{2}|UTC|GMT)?/
/** Redis: `1234:M 25 Nov 2026 18:53:44.906 * Ready to accept connections` */
const REDIS_TIME = /^\d+:[A-Z] (\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2})(?:\.\d+)?/
/** nginx's error log: `2026/11/25 10:00:00 [error] ...` (local time) */
const SLASHED_TIME = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) /

/** When a log line says it was written: an ISO prefix, a JSON-lines field, Redis's or nginx's own format. */
export function lineTime(line: string): number | undefined {
  if (line.startsWith('{')) {
    try {
      const record = JSON.parse(line) as Record<string, unknown>
      const value = record.timestamp ?? record.time ?? record.ts ?? record['@timestamp']
      if (typeof value === 'string') return Date.parse(value) || undefined
      if (typeof value === 'number') return value > 1e12 ? value : value * 1000
    } catch {
      // not JSON after all
    }
  }
  const iso = ISO_PREFIX.exec(line)
  if (iso) {
    const zone = iso[2] === 'UTC' || iso[2] === 'GMT' ? 'Z' : (iso[2] ?? '')
    return Date.parse(`${iso[1]!.replace(' ', 'T').replace(',', '.')}${zone}`) || undefined
  }
  const redis = REDIS_TIME.exec(line)
  if (redis) return Date.parse(redis[1]!) || undefined
  const slashed = SLASHED_TIME.exec(line)
  if (slashed) {
    const [, year, month, day, hour, minute, second] = slashed.map(Number)
    return new Date(year!, month! - 1, day, hour, minute, second).getTime()
  }
  return undefined
}

/** Lines with their own time where they carry one (a source that stamps lines sets `at` itself). */
export function timedLines(texts: readonly string[]): LogLine[] {
  return texts.map((text) => ({ text, at: lineTime(text) }))
}

/**
 * Keeps the lines of the last `sinceMs`. A line without a time was written after the timed line
 * above it, so it goes with that line (a traceback under an old error is old too); lines before
 * the first timed one are kept, their age unknown.
 */
export function withinWindow(lines: readonly LogLine[], sinceMs: number, now = Date.now()): LogLine[] {
  const from = now - sinceMs
  let last: number | undefined
  return lines.filter((line) => {
    if (line.at !== undefined) last = line.at
    return last === undefined || last >= from
  })
}
