import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config } from '../../src/config/load.js'
import type { DiskFacts, GrowthFacts, MountCapacity, RedisFacts, RetentionGrowth, SeriesGrowth, TableSize } from '../../src/jobs/capacity/facts.js'
import { diskFindings, growthFindings, measuredFindings, redisFindings } from '../../src/jobs/capacity/ratings.js'
import { recommend, recommendationFindings } from '../../src/jobs/capacity/recommendations.js'
import type { Forecast } from '../../src/lib/forecast.js'

const GiB = 1024 ** 3
const config: Config = resolveConfig(parseConfigText('', 'test'), null, {})

const growing = (perDay: number | null): SeriesGrowth => ({
  perDay,
  source: perDay === null ? 'none' : 'history',
  slopeError: 0,
  history: { points: 10, spanDays: 9, perDay, r2: 1 },
  measuredPerDay: null,
})

function mount(name: string, forecast: Forecast, role: 'data' | 'backups' = 'data', freeBytes = 10 * GiB): MountCapacity {
  return {
    mount: name,
    paths: [{ path: `${name}/x`, role, exists: true }],
    sizeBytes: 100 * GiB,
    usedBytes: 100 * GiB - freeBytes,
    freeBytes,
    usedPercent: 90,
    growth: { ...growing(GiB), components: [] },
    forecast,
  }
}

const disks = (...list: MountCapacity[]): DiskFacts => ({
  disks: list,
  backups: { path: '/b', exists: true, bytes: 0, files: 0, truncated: false, growth: growing(null) },
  unmeasured: [],
  notes: [],
})

const filling = (days: number): Forecast => ({ state: 'filling', perDay: GiB, daysUntilFull: days, fillDate: '2026-07-01T00:00:00.000Z' })

function retention(table: string, figures: Partial<RetentionGrowth>): RetentionGrowth {
  return {
    table,
    rowsPerDay: 1000,
    bytesPerRow: 1000,
    inflowBytesPerDay: 1_000_000,
    retentionDays: 90,
    leavingRowsPerDay: 1000,
    netRowsPerDay: 0,
    netBytesPerDay: 0,
    currentBytes: 90_000_000,
    steadyStateBytes: 90_000_000,
    pastRetentionRows: 0,
    pastRetentionBytes: 0,
    options: [],
    ...figures,
  }
}

const growth = (list: RetentionGrowth[]): GrowthFacts => ({ database: { ...growing(GiB), bytes: GiB }, tables: [], retention: list, notes: [] })

function redis(figures: Partial<RedisFacts>): RedisFacts {
  return {
    reachable: true,
    url: 'redis://127.0.0.1:6379',
    usedMemoryBytes: GiB,
    maxMemoryBytes: 4 * GiB,
    usedPercent: 25,
    evictionPolicy: 'noeviction',
    ...figures,
  }
}

const priorities = (list: { id: string; priority: string }[]) => Object.fromEntries(list.map((r) => [r.id, r.priority]))

describe('capacity recommendations', () => {
  it('rates a disk by when it fills: full or within the warning days high, within 90 days medium, later nothing', () => {
    const list = recommend(
      {
        disks: disks(
          mount('/full', { state: 'full', perDay: GiB, daysUntilFull: 0, fillDate: 'x' }),
          mount('/soon', filling(29)),
          mount('/later', filling(89)),
          mount('/far', filling(90)),
        ),
      },
      config,
    )
    expect(priorities(list)).toMatchObject({ 'disk-fills:/full': 'high', 'disk-fills:/soon': 'high', 'disk-fills:/later': 'medium' })
    expect(list.map((r) => r.id)).not.toContain('disk-fills:/far')
  })

  it('rates retention: none on a growing table medium, one that does not fit the data disk high, rows left behind low or medium', () => {
    const list = recommend(
      {
        disks: disks(mount('/data', { state: 'not-filling', perDay: 0, reason: 'flat' }, 'data', 100_000_000)),
        growth: growth([
          retention('no_rule', { retentionDays: null, netBytesPerDay: 1_000_000 }),
          retention('shrinking_no_rule', { retentionDays: null, netBytesPerDay: -5 }),
          retention('too_long', { steadyStateBytes: 500_000_000, currentBytes: 100_000_000 }),
          retention('behind_a_day', { pastRetentionRows: 3000 }),
          retention('behind_a_week', { pastRetentionRows: 7000 }),
        ]),
      },
      config,
    )
    expect(priorities(list)).toMatchObject({
      'no-retention:no_rule': 'medium',
      'retention-too-long:too_long': 'high',
      'retention-behind:behind_a_day': 'low',
      'retention-behind:behind_a_week': 'medium',
    })
    expect(list.map((r) => r.id)).not.toContain('no-retention:shrinking_no_rule')
    // What fits: today's size and 80% of the free space, at a million bytes a day.
    expect(list.find((r) => r.id === 'retention-too-long:too_long')!.action).toBe('shorten retention.rules too_long to 180 days or less, or grow /data')
  })

  it('rates tables mostly of dead tuples medium and a large table never analyzed low', () => {
    const table = (name: string, figures: Partial<TableSize>): TableSize => ({
      name,
      kind: 'table',
      partitions: 0,
      rows: 1000,
      heapBytes: 0,
      indexBytes: 0,
      toastBytes: 0,
      totalBytes: 0,
      liveTuples: 0,
      deadTuples: 0,
      lastVacuum: null,
      ...figures,
    })
    const database = {
      database: 'probe',
      where: 'localhost:5432',
      databaseBytes: GiB,
      dataDirectory: null,
      measured: [],
      tables: [
        table('bloated', { deadTuples: 20_000, liveTuples: 10_000 }),
        table('busy', { deadTuples: 20_000, liveTuples: 30_000 }),
        table('unknown', { rows: null, totalBytes: 200 * 1024 * 1024 }),
        table('small_unknown', { rows: null, totalBytes: 1024 }),
      ],
    }
    expect(priorities(recommend({ database }, config))).toEqual({ 'dead-tuples:bloated': 'medium', 'never-analyzed:unknown': 'low' })
  })

  it('rates Redis: at 90% of maxmemory high, filling within the warning days high, within 90 days medium, no maxmemory low', () => {
    const at = (figures: Partial<RedisFacts>) => priorities(recommend({ redis: redis(figures) }, config))
    expect(at({ usedPercent: 90 })).toEqual({ 'redis-memory': 'high' })
    expect(at({ forecast: filling(10) })).toEqual({ 'redis-memory': 'high' })
    expect(at({ forecast: filling(40) })).toEqual({ 'redis-memory': 'medium' })
    expect(at({ forecast: filling(100) })).toEqual({})
    expect(at({ maxMemoryBytes: 0, usedPercent: null })).toEqual({ 'redis-maxmemory': 'low' })
    expect(at({ reachable: false, usedPercent: 95 })).toEqual({})
  })

  it('says when no history is kept, and lists high first, then by id', () => {
    const noHistory = { ...config, reports: { ...config.reports, dir: '' } }
    const list = recommend(
      { disks: disks(mount('/b', filling(60)), mount('/a', filling(5))), redis: redis({ maxMemoryBytes: 0, usedPercent: null }) },
      noHistory,
    )
    expect(list.map((r) => `${r.priority} ${r.id}`)).toEqual(['high disk-fills:/a', 'medium disk-fills:/b', 'low history-off', 'low redis-maxmemory'])
    // As findings: a high priority warns (medium), the others are worth knowing (info); the action is the fix.
    expect(recommendationFindings(list).map((f) => `${f.severity} ${f.id}`)).toEqual([
      'medium disk-fills:/a',
      'info disk-fills:/b',
      'info history-off',
      'info redis-maxmemory',
    ])
    expect(recommendationFindings(list)[0]).toMatchObject({ message: expect.stringMatching(/^\[high\] \/a \(data\) fills in 5 days/), fix: list[0]!.action })
  })
})

describe('capacity ratings', () => {
  const thresholds = config.capacity

  it('fails a disk that is full or fills within the critical days, warns within the warning days', () => {
    const severities = diskFindings(
      disks(
        mount('/full', { state: 'full', perDay: GiB, daysUntilFull: 0, fillDate: 'x' }),
        mount('/a', filling(6)),
        mount('/b', filling(7)),
        mount('/c', filling(30)),
      ),
      thresholds,
    )
    expect(severities.map((f) => `${f.severity} ${f.id}`)).toEqual(['high disk-fills:/full', 'high disk-fills:/a', 'medium disk-fills:/b'])
    expect(diskFindings({ ...disks(), unmeasured: [{ path: '/x', role: 'disk', error: 'gone' }] }, thresholds)).toEqual([
      expect.objectContaining({ id: 'disks-not-measured', severity: 'medium', message: '/x: gone' }),
    ])
  })

  it('fails Redis only when it refuses writes when full (noeviction) and fills within the critical days', () => {
    const rated = (figures: Partial<RedisFacts>) => redisFindings(redis(figures), 'x', thresholds).map((f) => f.severity)
    expect(rated({ forecast: filling(3) })).toEqual(['high'])
    expect(rated({ forecast: filling(3), evictionPolicy: 'allkeys-lru' })).toEqual(['medium'])
    expect(rated({ forecast: filling(20) })).toEqual(['medium'])
    expect(rated({ usedPercent: 95, forecast: filling(200) })).toEqual(['medium'])
    expect(rated({ forecast: filling(200) })).toEqual([])
    expect(redisFindings({ reachable: false, url: 'redis://r', error: { message: 'refused', hint: 'start it' } }, '', thresholds)).toEqual([
      { id: 'redis-not-measured', severity: 'medium', message: 'refused', fix: 'start it' },
    ])
  })

  it('warns when growth cannot be measured, and says where to look', () => {
    expect(growthFindings(growth([]))).toEqual([])
    expect(growthFindings({ ...growth([]), database: { ...growing(null), bytes: 1 }, notes: ['no rows'] })).toEqual([
      expect.objectContaining({ id: 'growth-unknown', severity: 'medium', message: 'no rows' }),
    ])
    const base = { column: 'execution_time', windowDays: 30, retentionDays: null }
    expect(
      measuredFindings([
        { ...base, table: 'task_results', state: 'missing', message: 'no table task_results' },
        { ...base, table: 'events', state: 'not-a-timestamp', message: 'events.at is text' },
        { ...base, table: 'old', state: 'no-recent-rows', message: 'no old rows' },
        { ...base, table: 'fine', state: 'measured' },
      ]).map((f) => [f.id, f.fix]),
    ).toEqual([
      ['growth-not-measured:task_results', 'is this the platform database? check postgres.database / PGDATABASE'],
      ['growth-not-measured:events', 'fix retention.rules'],
      ['growth-not-measured:old', 'check that the platform is writing results (probe-ops diagnose)'],
    ])
  })
})
