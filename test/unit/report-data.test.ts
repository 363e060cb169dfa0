import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EVERY_STEP, buildReportSchema, loadJobModules, readEnvelope, renderSchema } from '../../scripts/report-schema.mjs'

const ROOT = resolve(import.meta.dirname, '../..')

type Json = Record<string, unknown>

/** Every spec and data schema of src/jobs, as the build finds them in dist/jobs. */
const jobs = await loadJobModules(resolve(ROOT, 'src/jobs'), '.ts')
const generated = buildReportSchema(readEnvelope(), jobs.specs, jobs.dataSchemas)

/** Every subschema of a JSON Schema, with its JSON pointer. */
function* subschemas(node: unknown, pointer = ''): Generator<[string, Json]> {
  if (Array.isArray(node)) for (const [i, item] of node.entries()) yield* subschemas(item, `${pointer}/${i}`)
  else if (node !== null && typeof node === 'object') {
    yield [pointer, node as Json]
    for (const [key, value] of Object.entries(node)) yield* subschemas(value, `${pointer}/${key}`)
  }
}

describe("each step's data schema", () => {
  it('exists for every step of every job spec, and for no step that is not there', () => {
    expect(jobs.specs.length).toBeGreaterThan(0)
    for (const spec of jobs.specs) {
      const keys = Object.keys(jobs.dataSchemas[spec.id] ?? {})
      const ids = Array.isArray(spec.steps) ? spec.steps.map((s: { id: string }) => s.id) : [EVERY_STEP]
      expect(keys.sort(), `src/jobs/*/data.ts dataSchemas['${spec.id}']`).toEqual([...ids].sort())
    }
    // The build refuses data schemas that do not match their spec.
    const [spec] = jobs.specs
    expect(() => buildReportSchema(readEnvelope(), [spec!], { [spec!.id]: {} })).toThrow(/do not match its steps/)
    expect(() => buildReportSchema(readEnvelope(), [], { nowhere: {} })).toThrow(/which no spec.ts defines/)
  })

  it('is strict: data with a field the schema does not name is refused', () => {
    const defs = generated.$defs as Record<string, Json>
    const names = Object.keys(defs).filter((name) => name.startsWith('data.'))
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) {
      for (const [pointer, schema] of subschemas(defs[name])) {
        if (schema.type === 'object' && 'properties' in schema) expect(schema.additionalProperties, `${name}${pointer}`).toBe(false)
      }
    }
  })

  it('is in docs/report.schema.json as the build generates it, every $ref resolving, the same bytes every time', () => {
    const text = renderSchema(generated)
    expect(renderSchema(buildReportSchema(readEnvelope(), [...jobs.specs].reverse(), jobs.dataSchemas))).toBe(text)
    expect(readFileSync(resolve(ROOT, 'docs/report.schema.json'), 'utf8'), 'docs/report.schema.json is stale: run `npm run build`').toBe(text)
    const defs = generated.$defs as Record<string, unknown>
    for (const [pointer, schema] of subschemas(generated)) {
      if (typeof schema.$ref !== 'string') continue
      const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1]
      expect(name && defs[name], `${pointer}: ${schema.$ref}`).toBeDefined()
    }
  })
})
