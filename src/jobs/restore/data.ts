import { z } from 'zod'
import type { JobDataSchemas } from '../spec.js'
import { diskFailureData, tableRows } from '../shared/backup-data.js'

/**
 * The data of each restore step, on success and on failure (a failed step's data is what it
 * knew when it failed: the roles missing, the counts that differ, the swap's timeline).
 */

const timeline = z.array(z.strictObject({ at: z.string().describe('ISO time'), event: z.string() }))

export const verifyData = z.strictObject({
  id: z.string().describe('The backup restored (named, since "latest" may have chosen it).'),
  repository: z.string().optional().describe('The repository whose copy is restored: the first, in configuration order, that passed.'),
  entries: z.number().int().nonnegative().describe('Entries pg_restore --list reads in it.'),
  tables: z.number().int().nonnegative().describe('Tables with data in it.'),
})
export type VerifyData = z.infer<typeof verifyData>

export const diskData = z.strictObject({
  path: z.string().optional().describe("PostgreSQL's data directory (restore.dataDirPath, else what the server says), when known."),
  needed: z.number().int().nonnegative().describe('Bytes the restored copy needs there.'),
  free: z.number().nonnegative().optional().describe('Bytes free there, when visible from here.'),
  backupDir: z.string(),
  safetyNeeded: z.number().int().nonnegative().describe('Bytes the safety backup needs in backup.dir.'),
  backupDirFree: z.number().nonnegative().optional(),
  sameDisk: z.boolean().describe('Whether both are on one filesystem (then both needs count against it).'),
  reserve: z.number().nonnegative().describe('restore.reserveBytes: what must stay free.'),
})
export type DiskData = z.infer<typeof diskData>

export const safetyBackupData = z.union([z.strictObject({ id: z.string(), bytes: z.number().int().nonnegative() }), diskFailureData])
export type SafetyBackupData = z.infer<typeof safetyBackupData>

const restoredData = z.strictObject({
  database: z.string().describe('The new database beside the live one.'),
  durationMs: z.number().nonnegative(),
  properties: z.enum(['backup', 'live database', 'none']).describe("Where the database's owner, privileges and settings came from."),
  owner: z.string().optional().describe('The owner given back (absent with --no-owner).'),
  roles: z.array(z.string()).describe('Roles the restore gives objects or privileges to.'),
  propertiesFailed: z.array(z.string()).describe('Database properties that could not be given back, each with why.'),
})
export const restoreData = z.union([
  restoredData,
  z.strictObject({ missingRoles: z.array(z.string()).describe('Roles the backup names that this server lacks.') }),
  z.strictObject({ foreignRoles: z.array(z.string()).describe('Roles this user may not give objects to.') }),
])
export type RestoreData = z.infer<typeof restoreData>

export const checkData = z.union([
  z.strictObject({ tablesCompared: z.number().int().nonnegative() }),
  z.strictObject({
    mismatches: z.array(z.strictObject({ name: z.string(), expected: z.number().int(), actual: z.number().int().nullable().describe('null: no such table') })),
  }),
])
export type CheckData = z.infer<typeof checkData>

export const swapData = z.union([
  z.strictObject({
    live: z.string(),
    preRestore: z.string().optional().describe('The live database of before, kept under this name (absent when there was none).'),
    downtimeMs: z.number().nonnegative().describe('How long the services were down.'),
    timeline,
    safetyBackup: z.string().optional(),
  }),
  z.strictObject({ timeline }),
])
export type SwapData = z.infer<typeof swapData>

export const tablesData = z.union([
  z.strictObject({ tables: z.array(z.string()), intoSchema: z.string() }),
  z.strictObject({
    replace: z.array(z.string()).describe('Emptied and reloaded whole.'),
    merge: z
      .array(
        z.strictObject({
          table: z.string(),
          key: z.array(z.string()).describe('The key rows are matched on.'),
          referencedBy: z.array(z.string()).describe('"table (constraint)" of each foreign key into it.'),
        }),
      )
      .describe('Merged row by row, since tables outside the restore reference them.'),
  }),
])
export type TablesData = z.infer<typeof tablesData>

export const restoreTablesData = z.union([
  z.strictObject({ tables: z.array(z.string()), intoSchema: z.string().optional(), rows: tableRows }),
  z.strictObject({
    merged: z.array(z.string()),
    replaced: z.array(z.string()),
    rows: z.array(z.strictObject({ table: z.string(), action: z.enum(['inserted', 'updated', 'deleted', 'kept']), rows: z.number().int() })),
    kept: z
      .array(z.strictObject({ table: z.string(), key: z.record(z.unknown()).describe("The kept row's key"), referencedBy: z.array(z.string()) }))
      .describe('Rows not in the backup kept since others reference them (the first 100).'),
    keptTotal: z.number().int().nonnegative(),
  }),
])
export type RestoreTablesData = z.infer<typeof restoreTablesData>

export const pitrVerifyData = z.strictObject({
  base: z.string().describe('The base backup the recovery starts from.'),
  window: z.strictObject({ from: z.string(), to: z.string() }).optional().describe('The times a recovery can stop at (point-in-time recovery).'),
  target: z.string().optional().describe('Where replay stops; absent: at the end of the archived WAL.'),
  repositories: z.array(z.string()).optional().describe('Physical full restore: the repositories whose copy can be read here, in the order they are tried.'),
})
export type PitrVerifyData = z.infer<typeof pitrVerifyData>

export const prepareData = z.strictObject({
  dataDir: z.string(),
  port: z.number().int(),
  from: z.string().optional().describe('Physical full restore: the repository whose copy was unpacked, and those passed over.'),
})
export type PrepareData = z.infer<typeof prepareData>

export const recoverData = z.union([
  z.strictObject({ port: z.number().int(), log: z.string() }),
  z.strictObject({ logTail: z.array(z.string()).describe("The end of the recovered cluster's log.") }),
])
export type RecoverData = z.infer<typeof recoverData>

export const pitrCheckData = z.strictObject({ tables: tableRows })
export type PitrCheckData = z.infer<typeof pitrCheckData>

export const switchData = z.union([
  z
    .strictObject({
      port: z.number().int(),
      dataDir: z.string(),
      nextSteps: z.array(z.string()).describe('What the operator can do with the side cluster.'),
    })
    .describe('--side-only: the recovered cluster left running on its side port.'),
  z.strictObject({
    dataDir: z.string().describe('The live data directory, now the recovered data.'),
    previous: z.string().describe('The data directory of before, kept.'),
    downtimeMs: z.number().nonnegative(),
    parent: z.string(),
  }),
])
export type SwitchData = z.infer<typeof switchData>

const serviceBack = z.strictObject({
  service: z.string(),
  action: z.enum(['started', 'found running']),
  ready: z.boolean(),
  readiness: z.string().describe('What its readiness check answered last.'),
  waitedMs: z.number().nonnegative(),
})
export type ServiceBack = z.infer<typeof serviceBack>

export const cleanupData = z.union([
  z.strictObject({
    actions: z.array(z.string()).describe('What cleanup did (or, with --dry-run, would do).'),
    kept: z.array(z.string()).describe('Databases kept from before restores (--drop-pre-restore drops them).'),
    services: z.array(serviceBack).optional().describe('The services an interrupted restore had stopped, started again.'),
  }),
  z.strictObject({ services: z.array(serviceBack) }),
])
export type CleanupData = z.infer<typeof cleanupData>

export const dataSchemas = {
  'restore-full': { verify: verifyData, disk: diskData, 'safety-backup': safetyBackupData, restore: restoreData, check: checkData, swap: swapData },
  'restore-partial': { verify: verifyData, tables: tablesData, 'safety-backup': safetyBackupData, 'restore-tables': restoreTablesData },
  'restore-pitr': { verify: pitrVerifyData, prepare: prepareData, recover: recoverData, check: pitrCheckData, switch: switchData },
  'restore-physical': { verify: pitrVerifyData, prepare: prepareData, recover: recoverData, check: pitrCheckData, switch: switchData },
  'restore-cleanup': { cleanup: cleanupData },
} satisfies JobDataSchemas
