import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SECRETS_MESSAGE, effectiveRepositories, type RepositoryConfig } from '../../src/config/repositories.js'
import { backupSection } from '../../src/config/schema-backup.js'
import { YamlSource } from '../../src/config/yaml-source.js'

/** backup as the configuration file's schema has it. */
const backupSchema = backupSection

function firstIssue(yaml: string): { message: string; line: number } {
  const { value, source } = YamlSource.parse(yaml)
  const result = z.object({ backup: backupSchema }).safeParse(value)
  if (result.success) throw new Error('expected a refusal')
  const issue = result.error.issues[0]!
  return { message: issue.message, line: source.lineOf(issue.path) }
}

/** A valid age public key (age-keygen's). */
const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'

const offsite = `    - name: offsite
      type: s3
      bucket: probe-backups
      prefix: probe-01/
      endpoint: https://minio.example:9000
      forcePathStyle: true
      credentialsFile: /etc/network-probe/s3-credentials
`

describe('backup.repositories', () => {
  it('keeps existing configurations working: backup.dir alone is the one local repository, walDir its wal/', () => {
    expect(effectiveRepositories(backupSchema.parse({}))).toEqual([{ name: 'local', type: 'local', path: '/var/backups/network-probe', prune: true }])
    expect(effectiveRepositories(backupSchema.parse({ dir: '/srv/b', walDir: '/srv/wal' }))).toEqual([
      { name: 'local', type: 'local', path: '/srv/b', walPath: '/srv/wal', prune: true },
    ])
  })

  it('reads a local and an S3 repository with their defaults, in order of preference', () => {
    const { value } = YamlSource.parse(`backup:\n  repositories:\n    - name: local\n      type: local\n      path: /var/backups/network-probe\n${offsite}`)
    const repositories = effectiveRepositories(z.object({ backup: backupSchema }).parse(value).backup)
    expect(repositories.map((r) => r.name)).toEqual(['local', 'offsite'])
    expect(repositories[1]).toEqual<RepositoryConfig>({
      name: 'offsite',
      type: 's3',
      bucket: 'probe-backups',
      prefix: 'probe-01/',
      region: 'us-east-1',
      endpoint: 'https://minio.example:9000',
      forcePathStyle: true,
      credentialsFile: '/etc/network-probe/s3-credentials',
      instanceCredentials: false,
      partSizeMiB: 16,
      queueSize: 2,
      timeoutSeconds: 60,
      readBack: 'etag',
      prune: true,
    })
  })

  it.each(['secretAccessKey', 'accessKeyId', 'sessionToken', 'password', 'secret'])(
    'refuses a secret (%s) in the configuration, on its line, saying where it goes',
    (key) => {
      const yaml = `backup:\n  repositories:\n    - name: local\n      type: local\n      path: /b\n${offsite}      ${key}: hunter2-not-here\n`
      expect(firstIssue(yaml)).toEqual({ message: SECRETS_MESSAGE, line: 13 })
      expect(SECRETS_MESSAGE).toMatch(/AWS_SECRET_ACCESS_KEY.*credentialsFile/)
    },
  )

  it('refuses credentials in the endpoint URL', () => {
    const yaml = `backup:\n  repositories:\n    - name: offsite\n      type: s3\n      bucket: probe-backups\n      endpoint: https://key:hunter2@minio.example:9000\n`
    expect(firstIssue(yaml)).toEqual({ message: SECRETS_MESSAGE, line: 6 })
  })

  it.each([
    [`    - name: Offsite\n      type: local\n      path: /b\n`, /lower-case name/, 3],
    [`    - name: a\n      type: local\n      path: /b\n    - name: a\n      type: local\n      path: /c\n`, /unique/, 6],
    [`    - name: a\n      type: local\n      path: /b\n    - name: c\n      type: local\n      path: /b/\n`, /the same place as entry 0/, 6],
    [`    - name: a\n      type: s3\n      bucket: b1x\n      prefix: /probe\n`, /ends with "\/"/, 6],
    [`    - name: a\n      type: s3\n      bucket: b1x\n      partSizeMiB: 4\n`, /greater than or equal to 5/, 6],
    [`    - name: a\n      type: local\n      path: relative/dir\n`, /absolute path/, 5],
    [`    - name: a\n      type: ftp\n`, /Invalid discriminator/, 4],
  ])('refuses a bad entry with its line: %s', (entries, message, line) => {
    const issue = firstIssue(`backup:\n  repositories:\n${entries}`)
    expect(issue.message).toMatch(message)
    expect(issue.line).toBe(line)
  })

  it('refuses walDir beside repositories: it moved to the local repository', () => {
    const issue = firstIssue(`backup:\n  walDir: /srv/wal\n  repositories:\n    - name: local\n      type: local\n      path: /b\n`)
    expect(issue).toEqual({ message: 'with backup.repositories, set walPath on the local repository instead', line: 2 })
    expect(firstIssue('backup:\n  repositories: []\n').message).toMatch(/at least one repository/)
  })

  it('reads encryption recipients, and refuses a mistyped key, a secret key or an empty list with the line', () => {
    const { value } = YamlSource.parse(`backup:\n  encryption:\n    recipients: [${RECIPIENT}]\n    identityFile: /root/age.key\n`)
    expect(z.object({ backup: backupSchema }).parse(value).backup.encryption).toEqual({
      recipients: [RECIPIENT],
      identityFile: '/root/age.key',
      program: 'auto',
    })
    const mistyped = RECIPIENT.slice(0, 10) + (RECIPIENT[10] === 'q' ? 'p' : 'q') + RECIPIENT.slice(11)
    const wrong = firstIssue(`backup:\n  encryption:\n    recipients:\n      - ${mistyped}\n`)
    expect(wrong).toEqual({ message: `the recipient "${mistyped}" has a wrong checksum: a character is mistyped; copy the key again`, line: 4 })
    const secret = firstIssue(`backup:\n  encryption:\n    recipients:\n      - AGE-SECRET-KEY-1QQQ\n`)
    expect(secret.message).toMatch(/is a secret key, not a public key/)
    expect(secret.message).not.toMatch(/QQQ/)
    expect(firstIssue('backup:\n  encryption:\n    recipients: []\n').message).toMatch(/at least one age public key/)
  })

  it('reads maxAge as durations with defaults, and wal and objectives with theirs', () => {
    const backup = backupSchema.parse({ maxAge: { database: '2d' } })
    expect(backup.maxAge).toEqual({ database: 2 * 86_400_000, base: 8 * 86_400_000, config: 8 * 86_400_000, verification: 8 * 86_400_000 })
    expect(backup.wal).toEqual({ compress: 'zstd', pushTimeoutSeconds: 60, archiveTimeoutSeconds: 300, command: [] })
    expect(backup.objectives).toEqual({})
    expect(firstIssue('backup:\n  maxAge:\n    base: soon\n').line).toBe(3)
  })
})
