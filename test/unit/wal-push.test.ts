import { describe, expect, it } from 'vitest'
import { hasSegmentHeader, isWalFileName } from '../../src/wal/archive.js'
import { parseSegmentName } from '../../src/wal/names.js'
import { pushFailureLines, pushSucceeded, type PushResult } from '../../src/wal/push.js'
import { headerMismatch, readSegmentHeader } from '../../src/wal/segment-header.js'
import { fixedBy, shellWord, walCommands, wantedChanges, type WalSettings } from '../../src/wal/settings.js'

const MIB16 = 16 * 1024 * 1024

/** The first 40 bytes of a segment as PostgreSQL 15 writes them. */
function header(fields: { magic?: number; info?: number; timeline?: number; start?: bigint; sysid?: bigint; segmentBytes?: number }): Buffer {
  const bytes = Buffer.alloc(64)
  bytes.writeUInt16LE(fields.magic ?? 0xd110, 0)
  bytes.writeUInt16LE(fields.info ?? 0x0006, 2)
  bytes.writeUInt32LE(fields.timeline ?? 1, 4)
  bytes.writeBigUInt64LE(fields.start ?? 3n * BigInt(MIB16), 8)
  bytes.writeBigUInt64LE(fields.sysid ?? 7715790966965947287n, 24)
  bytes.writeUInt32LE(fields.segmentBytes ?? MIB16, 32)
  bytes.writeUInt32LE(8192, 36)
  return bytes
}

describe('the long page header of a WAL segment', () => {
  it('reads the fields wal push checks, and knows the major version by the magic number', () => {
    expect(readSegmentHeader(header({}))).toEqual({
      magic: 0xd110,
      major: 15,
      timeline: 1,
      pageAddress: 3n * BigInt(MIB16),
      systemIdentifier: '7715790966965947287',
      segmentBytes: MIB16,
      blockBytes: 8192,
    })
    expect(readSegmentHeader(header({ magic: 0xd1ff }))?.major).toBeUndefined()
    // A page without XLP_LONG_HEADER, or a file too short, is no segment start.
    expect(readSegmentHeader(header({ info: 0x0001 }))).toBeUndefined()
    expect(readSegmentHeader(Buffer.alloc(20))).toBeUndefined()
  })

  it('holds a file to the segment its name says', () => {
    const segment = parseSegmentName('000000010000000000000003')!
    expect(headerMismatch(readSegmentHeader(header({})), segment, MIB16)).toBeUndefined()
    expect(headerMismatch(readSegmentHeader(header({})), segment, 1000)).toBe('its header says a segment of 16777216 bytes, and the file holds 1000')
    expect(headerMismatch(readSegmentHeader(header({ start: 4n * BigInt(MIB16) })), segment, MIB16)).toBe(
      'its header says it starts at segment 4, and its name says segment 3',
    )
    expect(headerMismatch(readSegmentHeader(header({ timeline: 2 })), segment, MIB16)).toBe('its header says timeline 2, and its name timeline 1')
    expect(headerMismatch(undefined, segment, MIB16)).toBe('it does not start with a WAL segment header')
  })

  it("accepts the first segment of a new timeline, which starts with the old timeline's pages", () => {
    const segment = parseSegmentName('000000020000000000000006')!
    expect(headerMismatch(readSegmentHeader(header({ timeline: 1, start: 6n * BigInt(MIB16) })), segment, MIB16)).toBeUndefined()
  })
})

describe('WAL file names', () => {
  it('takes segments, .partial, .backup and .history, and nothing else', () => {
    for (const name of ['000000010000000000000003', '000000010000000A0000003F.partial', '000000010000000000000068.00000028.backup', '00000002.history'])
      expect(isWalFileName(name), name).toBe(true)
    for (const name of ['00000001000000000000003', '000000010000000000000003.gz', 'RECOVERYXLOG', '../000000010000000000000003', '00000002.HISTORY', ''])
      expect(isWalFileName(name), name).toBe(false)
    expect(hasSegmentHeader('000000010000000A0000003F.partial')).toBe(true)
    expect(hasSegmentHeader('00000002.history')).toBe(false)
  })
})

describe("wal push's outcome", () => {
  const result = (outcomes: PushResult['outcomes']): PushResult => ({ name: '000000010000000000000003', sha256: 'a'.repeat(64), outcomes })
  const repository = (name: string) => ({ repository: name, where: name })

  it('succeeds only when every repository holds the file', () => {
    expect(
      pushSucceeded(
        result([
          { ...repository('local'), state: 'present' },
          { ...repository('offsite'), state: 'stored' },
        ]),
      ),
    ).toBe(true)
    expect(
      pushSucceeded(
        result([
          { ...repository('local'), state: 'stored' },
          { ...repository('offsite'), state: 'failed', why: 'no answer' },
        ]),
      ),
    ).toBe(false)
  })

  it('says a conflict, and what was held back because of it, one line each', () => {
    const lines = pushFailureLines(
      result([
        { ...repository('local'), state: 'conflict', theirs: 'b'.repeat(64) },
        { ...repository('offsite'), state: 'held', why: 'held back' },
      ]),
    )
    expect(lines).toEqual([
      'refused: 000000010000000000000003 is already archived in local with other content (sha256 bbbbbbbbbbbb…, this one aaaaaaaaaaaa…): two clusters write to one repository, or a restored cluster reuses its timeline; archiving stops here until a person decides (see docs/operations.md)',
      '000000010000000000000003 was written nowhere: offsite held back',
    ])
    expect(pushFailureLines(result([{ ...repository('offsite'), state: 'failed', why: 'no answer within 60 s' }]))).toEqual([
      '000000010000000000000003 not stored in offsite (no answer within 60 s); PostgreSQL will retry',
    ])
  })
})

describe('the settings backup wal-setup wants', () => {
  const node = ['/opt/node22/bin/node', '/opt/probe-ops/bin/run.js']
  const settings = { command: [], configPath: '/etc/network-probe/probe-ops.yaml', archiveTimeoutSeconds: 300 }
  const current: WalSettings = {
    walLevel: 'replica',
    archiveMode: 'on',
    archiveCommand: '/bin/true',
    restoreCommand: '',
    archiveTimeout: '0',
    pendingRestart: [],
    sources: { archive_command: 'command line' },
  }

  it('runs wal push and wal fetch with absolute paths and the configuration in effect', () => {
    expect(walCommands(settings, node)).toEqual({
      archive: '/opt/node22/bin/node /opt/probe-ops/bin/run.js wal push %p --config /etc/network-probe/probe-ops.yaml',
      restore: '/opt/node22/bin/node /opt/probe-ops/bin/run.js wal fetch %f %p --config /etc/network-probe/probe-ops.yaml',
    })
    expect(walCommands({ ...settings, command: ['/usr/local/bin/probe-ops'], configPath: null }, node).archive).toBe('/usr/local/bin/probe-ops wal push %p')
  })

  it("quotes a word for the shell, and doubles a % (PostgreSQL's own escape)", () => {
    expect(shellWord('/opt/probe-ops/bin/run.js')).toBe('/opt/probe-ops/bin/run.js')
    expect(shellWord('/srv/my configs/probe-ops.yaml')).toBe("'/srv/my configs/probe-ops.yaml'")
    expect(shellWord("/srv/it's")).toBe(`'/srv/it'\\''s'`)
    expect(shellWord('/srv/100%')).toBe('/srv/100%%')
  })

  it('changes what differs, and says which settings ALTER SYSTEM cannot change', () => {
    const changes = wantedChanges(current, settings, node)
    expect(changes.map((change) => change.name)).toEqual(['archive_command', 'restore_command', 'archive_timeout'])
    expect(fixedBy(changes[0]!, current)).toBe("archive_command is set on PostgreSQL's command line (-c): change it there")
    expect(fixedBy(changes[1]!, current)).toBeUndefined()
    expect(wantedChanges({ ...current, archiveTimeout: '60' }, settings, node).map((c) => c.name)).not.toContain('archive_timeout')
  })
})
