// Generates docs/report.schema.json: the hand-written envelope (scripts/report-schema/envelope.json)
// plus the schema of each step's `data`, made from the zod schemas in src/jobs/<job>/data.ts (the
// same source the steps' types come from), keyed by command and step id. Run by `npm run build`
// on the compiled dist/; the output is deterministic, so a conflict in it is settled by running
// the build again, and scripts/test.sh fails when the checked-in file differs from it.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { zodToJsonSchema } from 'zod-to-json-schema'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** A data schema key that covers every step of a job whose steps come from the configuration. */
export const EVERY_STEP = '*'

/** The exported values of a module that are job specs. */
export function specsIn(module) {
  return Object.values(module).filter(
    (value) =>
      value &&
      typeof value === 'object' &&
      typeof value.id === 'string' &&
      typeof value.command === 'string' &&
      typeof value.context === 'function' &&
      'steps' in value,
  )
}

function stepIds(spec) {
  return Array.isArray(spec.steps) ? spec.steps.map((step) => step.id) : undefined
}

/** Each data.ts's keys against the specs: an unknown job or step, or a step without a schema, stops the build. */
function checkKeys(specs, dataSchemas) {
  const byId = new Map(specs.map((spec) => [spec.id, spec]))
  for (const [jobId, steps] of Object.entries(dataSchemas)) {
    const spec = byId.get(jobId)
    if (!spec) throw new Error(`data schemas for "${jobId}", which no spec.ts defines`)
    const ids = stepIds(spec)
    const keys = Object.keys(steps)
    if (!ids) {
      if (keys.join() !== EVERY_STEP) throw new Error(`${jobId}'s steps come from the configuration: its data schemas take the one key "${EVERY_STEP}"`)
      continue
    }
    const missing = ids.filter((id) => !keys.includes(id))
    const unknown = keys.filter((key) => !ids.includes(key))
    if (missing.length || unknown.length) {
      throw new Error(
        `${jobId}'s data schemas do not match its steps: ${[...missing.map((id) => `no schema for ${id}`), ...unknown.map((id) => `no step ${id}`)].join(', ')}`,
      )
    }
  }
}

function jsonSchemaOf(zodSchema) {
  const { $schema: _ignored, ...schema } = zodToJsonSchema(zodSchema, { $refStrategy: 'none', target: 'jsonSchema2019-09' })
  return schema
}

const ref = (name) => ({ $ref: `#/$defs/${name}` })
// Every subschema says its type: ajv's strict mode (and a reader) should not have to infer it.
const whenEquals = (property, value) => ({ type: 'object', required: [property], properties: { [property]: { const: value } } })
const withData = (data) => ({ type: 'object', properties: { data } })

/**
 * The report schema: the envelope, a `data.<job>.<step>` definition per step schema (one per zod
 * schema: a step shared by jobs keeps its owner's name), and per command a branch that holds each
 * step's data to its definition. Jobs without data schemas keep the envelope's permissive object.
 */
export function buildReportSchema(envelope, specs, dataSchemas) {
  checkKeys(specs, dataSchemas)
  const schema = structuredClone(envelope)
  const names = new Map()
  const generated = {}
  /** command -> step id (or EVERY_STEP) -> definition names */
  const byCommand = new Map()
  for (const spec of [...specs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const steps = dataSchemas[spec.id]
    if (!steps) continue
    const order = stepIds(spec) ?? [EVERY_STEP]
    const forCommand = byCommand.get(spec.command) ?? new Map()
    byCommand.set(spec.command, forCommand)
    for (const step of order) {
      const zodSchema = steps[step]
      let name = names.get(zodSchema)
      if (!name) {
        name = `data.${spec.id}.${step === EVERY_STEP ? 'every-step' : step}`
        names.set(zodSchema, name)
        generated[name] = jsonSchemaOf(zodSchema)
      }
      const refs = forCommand.get(step) ?? []
      if (!refs.includes(name)) refs.push(name)
      forCommand.set(step, refs)
    }
  }
  const branches = [...byCommand.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([command, steps]) => {
      const stepRules = [...steps.entries()].map(([step, refs]) => {
        const data = refs.length === 1 ? ref(refs[0]) : { anyOf: refs.map(ref) }
        return step === EVERY_STEP ? withData(data) : { if: whenEquals('id', step), then: withData(data) }
      })
      return { if: whenEquals('command', command), then: { type: 'object', properties: { steps: { type: 'array', items: { allOf: stepRules } } } } }
    })
  const report = schema.$defs.report
  report.allOf = [...(report.allOf ?? []), ...branches]
  schema.$defs = {
    ...schema.$defs,
    ...Object.fromEntries(
      Object.keys(generated)
        .sort()
        .map((name) => [name, generated[name]]),
    ),
  }
  return schema
}

export function renderSchema(schema) {
  return `${JSON.stringify(schema, null, 2)}\n`
}

/** Every spec and data schema of the job folders under `jobsDir` (dist/jobs for the build). */
export async function loadJobModules(jobsDir, extension = '.js') {
  const specs = []
  const dataSchemas = {}
  for (const folder of readdirSync(jobsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()) {
    const specFile = join(jobsDir, folder, `spec${extension}`)
    const dataFile = join(jobsDir, folder, `data${extension}`)
    if (existsSync(specFile)) specs.push(...specsIn(await import(pathToFileURL(specFile).href)))
    if (existsSync(dataFile)) Object.assign(dataSchemas, (await import(pathToFileURL(dataFile).href)).dataSchemas)
  }
  return { specs, dataSchemas }
}

export function readEnvelope() {
  return JSON.parse(readFileSync(join(ROOT, 'scripts/report-schema/envelope.json'), 'utf8'))
}

async function main() {
  const { specs, dataSchemas } = await loadJobModules(join(ROOT, 'dist/jobs'))
  writeFileSync(join(ROOT, 'docs/report.schema.json'), renderSchema(buildReportSchema(readEnvelope(), specs, dataSchemas)))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`report schema: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
