import { z } from 'zod'

/**
 * `backup.repositories`: where backups and WAL are kept (design-14 §3.2). Without the key,
 * `backup.dir` is the one local repository, as it always was. Secrets never go in the
 * configuration: S3 credentials come from the environment, an AWS profile or a credentials file.
 */

/** Keys that would put a secret in the configuration file, refused with their own message. */
export const SECRET_KEYS = ['accessKeyId', 'secretAccessKey', 'sessionToken', 'password', 'secret'] as const

export const SECRETS_MESSAGE =
  'secrets never go in the configuration: put them in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in credentialsFile (AWS shared-credentials format, mode 0640)'

/** Without `repositories`, the name of the one local repository at backup.dir. */
export const IMPLICIT_LOCAL = 'local'

const repositoryName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a lower-case name (a letter, then letters, digits or "-"; at most 32 characters)')
export const absolutePath = z
  .string()
  .min(1)
  .refine((path) => path.startsWith('/'), 'must be an absolute path')
const keepOverride = z
  .object({
    last: z.number().int().min(0).optional(),
    daily: z.number().int().min(0).optional(),
    weekly: z.number().int().min(0).optional(),
    monthly: z.number().int().min(0).optional(),
  })
  .strict()

const shared = {
  name: repositoryName,
  /** false: retention is left to someone else (a bucket lifecycle rule); prune deletes nothing here. */
  prune: z.boolean().default(true),
  /** Overrides backup.keep for this repository (an off-site copy often keeps longer). */
  keep: keepOverride.optional(),
}

export const localRepositorySchema = z
  .object({
    ...shared,
    type: z.literal('local'),
    path: absolutePath,
    /** Where this repository's wal/ lives, when not PATH/wal (what backup.walDir was). */
    walPath: absolutePath.optional(),
  })
  .strict()

/** S3's bucket naming rules (the DNS-compatible ones every provider accepts). */
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3 to 63 lower-case letters, digits, "." or "-")')

const endpoint = z
  .string()
  .url('must be a URL like https://minio.example:9000')
  .superRefine((value, context) => {
    const url = new URL(value)
    if (url.username !== '' || url.password !== '') context.addIssue({ code: z.ZodIssueCode.custom, message: SECRETS_MESSAGE })
    else if (url.protocol !== 'https:' && url.protocol !== 'http:')
      context.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an http:// or https:// URL' })
    else if (url.search !== '' || url.hash !== '') context.addIssue({ code: z.ZodIssueCode.custom, message: 'must be the endpoint alone, without ? or #' })
  })

export const s3RepositorySchema = z
  .object({
    ...shared,
    type: z.literal('s3'),
    bucket: bucketName,
    /** Keys live under it: '' or a path ending in '/', with no leading '/'. */
    prefix: z
      .string()
      .default('')
      .refine(
        (prefix) =>
          prefix === '' ||
          (prefix.endsWith('/') &&
            !prefix.startsWith('/') &&
            !prefix
              .split('/')
              .slice(0, -1)
              .some((p) => p === '' || p.startsWith('.'))),
        {
          message: 'must be empty or like "probe-01/" (ends with "/", no leading "/", no empty or dot parts)',
        },
      ),
    region: z.string().min(1).default('us-east-1'),
    /** An S3-compatible server (MinIO, Ceph); left out for AWS itself. */
    endpoint: endpoint.optional(),
    /** Path-style addressing (MinIO, Ceph): http://host/bucket/key rather than http://bucket.host/key. */
    forcePathStyle: z.boolean().default(false),
    /** An AWS shared-credentials file (root:postgres 0640), read at each run; never the secrets themselves. */
    credentialsFile: absolutePath.optional(),
    /** A profile in credentialsFile, or in ~/.aws of the user running. */
    profile: z.string().min(1).optional(),
    /** Allow EC2/ECS metadata credentials; never probed otherwise (a blackholed address waits). */
    instanceCredentials: z.boolean().default(false),
    storageClass: z.enum(['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY']).optional(),
    /** The multipart part size; raised per upload when 10,000 parts would not hold the expected size. */
    partSizeMiB: z.number().int().min(5).max(512).default(16),
    /** Parts in flight: memory is about 3 × part size × this. */
    queueSize: z.number().int().min(1).max(16).default(2),
    /** The bound on one request (then it fails rather than waits). */
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
    /** etag: size and ETag after an upload (a full re-hash when the ETag proves nothing); full: always GET and re-hash. */
    readBack: z.enum(['etag', 'full']).default('etag'),
  })
  .strict()

/** One entry: a secret key is refused with its own message before anything else is checked. */
export const repositorySchema = z
  .unknown()
  .superRefine((value, context) => {
    if (typeof value !== 'object' || value === null) return
    for (const key of SECRET_KEYS) if (key in value) context.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: SECRETS_MESSAGE })
  })
  .pipe(z.discriminatedUnion('type', [localRepositorySchema, s3RepositorySchema]))

export const repositoriesSchema = z
  .array(repositorySchema)
  .min(1, 'must list at least one repository (or be left out: backup.dir is then the one local repository)')
  .superRefine((repositories, context) => {
    const names = new Map<string, number>()
    const places = new Map<string, number>()
    repositories.forEach((repository, index) => {
      const other = names.get(repository.name)
      if (other !== undefined)
        context.addIssue({
          code: z.ZodIssueCode.custom,
          path: [index, 'name'],
          message: `repository names must be unique: ${repository.name} is also entry ${other}`,
        })
      names.set(repository.name, index)
      const place = placeOf(repository)
      const same = places.get(place)
      if (same !== undefined)
        context.addIssue({
          code: z.ZodIssueCode.custom,
          path: [index],
          message: `the same place as entry ${same} (${place}): each repository needs a place of its own`,
        })
      places.set(place, index)
    })
  })

export type LocalRepositoryConfig = z.infer<typeof localRepositorySchema>
export type S3RepositoryConfig = z.infer<typeof s3RepositorySchema>
export type RepositoryConfig = LocalRepositoryConfig | S3RepositoryConfig

function placeOf(repository: RepositoryConfig): string {
  if (repository.type === 'local') return `local ${repository.path.replace(/\/+$/, '')}`
  return `s3 ${repository.endpoint ?? 'aws'} ${repository.bucket}/${repository.prefix}`
}

/** The part of `backup` these rules read. */
export interface BackupPlaces {
  dir: string
  walDir?: string
  repositories?: RepositoryConfig[]
}

/**
 * The rule across `backup`'s keys, for schema.ts's superRefine: with `repositories`, walDir has
 * moved to the local repository's walPath.
 */
export function checkBackupPlaces(backup: BackupPlaces, context: z.RefinementCtx): void {
  if (backup.repositories !== undefined && backup.walDir !== undefined)
    context.addIssue({ code: z.ZodIssueCode.custom, path: ['walDir'], message: 'with backup.repositories, set walPath on the local repository instead' })
}

/** The repositories in effect, in order of preference: without `repositories`, backup.dir (with walDir). */
export function effectiveRepositories(backup: BackupPlaces): RepositoryConfig[] {
  if (backup.repositories !== undefined) return backup.repositories
  // Not parsed again: backup.dir has its own rules in schema.ts (a relative one stays as it is).
  return [{ name: IMPLICIT_LOCAL, type: 'local', path: backup.dir, prune: true, ...(backup.walDir === undefined ? {} : { walPath: backup.walDir }) }]
}
