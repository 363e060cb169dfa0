import { z } from 'zod'

/** Schemas of step data that the backup jobs and the restores both report. */

/** A failed step's data when the backup directory's disk failed under the write. */
export const diskFailureData = z
  .strictObject({ cause: z.string().describe('What the operating system or the program said (no space left on device, ...), in its own words.') })
  .describe('The step failed because the disk of backup.dir failed under the write; nothing of the backup was kept.')

/** Tables (schema.name) with their exact row counts. */
export const tableRows = z.array(z.strictObject({ name: z.string().describe('schema.name'), rows: z.number().int().nonnegative() }))
