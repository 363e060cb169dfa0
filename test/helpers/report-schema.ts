import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { expect } from 'vitest'
import type { ErrorCode } from '../../src/errors.js'
import type { ErrorDocument } from '../../src/report/model.js'

export const reportSchema = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../docs/report.schema.json'), 'utf8')) as {
  $defs: { error: { properties: { error: { properties: { code: { enum: string[] } } } } } } & Record<string, unknown>
}
const ajv = new Ajv2020({ allErrors: true })
;(addFormats as unknown as (a: Ajv2020) => void)(ajv)
const validate = ajv.compile(reportSchema)

/**
 * What is wrong with a document, one line per problem, naming the step (by id) whose data is
 * wrong: "steps/2 (disk)/data/disks/0: must have required property 'path'".
 */
function problems(document: unknown): string {
  const steps = (document as { steps?: { id?: string }[] }).steps ?? []
  return (validate.errors ?? [])
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'allOf')
    .map((e) => {
      const path = e.instancePath.replace(/^\/steps\/(\d+)/, (_, i: string) => `steps/${i} (${steps[Number(i)]?.id ?? '?'})`)
      return `${path || '(document)'}: ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}`
    })
    .join('\n')
}

/** The document matches the JSON Schema shipped in docs/ (a report, with each step's data, or an error document). */
export function expectValidDocument(document: unknown): void {
  const valid = validate(document)
  expect(valid, `the document does not match docs/report.schema.json:\n${problems(document)}`).toBe(true)
}

/** The report a command printed matches the JSON Schema shipped in docs/. */
export function expectValidReport(report: unknown): void {
  expectValidDocument(report)
  expect((report as { status: string }).status).not.toBe('error')
}

/** What --json printed when no job could run: an error document of the schema, with this exit code and error code. */
export function expectErrorDocument(stdout: string, exitCode: number, code: ErrorCode): ErrorDocument {
  let document: ErrorDocument
  try {
    document = JSON.parse(stdout) as ErrorDocument
  } catch {
    throw new Error(`stdout is not one JSON document:\n${stdout}`)
  }
  expectValidDocument(document)
  expect(document.status).toBe('error')
  expect(document.exitCode).toBe(exitCode)
  expect(document.error.code).toBe(code)
  return document
}
