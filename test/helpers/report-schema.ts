import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { expect } from 'vitest'

const schema = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../docs/report.schema.json'), 'utf8')) as object
const ajv = new Ajv2020({ allErrors: true })
;(addFormats as unknown as (a: Ajv2020) => void)(ajv)
const validate = ajv.compile(schema)

/** The report a command printed matches the JSON Schema shipped in docs/. */
export function expectValidReport(report: unknown): void {
  const valid = validate(report)
  expect(valid, ajv.errorsText(validate.errors, { separator: '\n' })).toBe(true)
}
