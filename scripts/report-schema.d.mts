// The types of report-schema.mjs, for the unit test that runs it on src/jobs.
import type { AnyJobSpec } from '../src/jobs/spec.js'

type Json = Record<string, unknown>
type DataSchemas = Record<string, Record<string, unknown>>

export const EVERY_STEP: '*'
export function specsIn(module: Record<string, unknown>): AnyJobSpec[]
export function buildReportSchema(envelope: Json, specs: readonly AnyJobSpec[], dataSchemas: DataSchemas): Json
export function renderSchema(schema: Json): string
export function loadJobModules(jobsDir: string, extension?: string): Promise<{ specs: AnyJobSpec[]; dataSchemas: DataSchemas }>
export function readEnvelope(): Json
