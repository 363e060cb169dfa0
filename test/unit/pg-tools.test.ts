import { describe, expect, it } from 'vitest'
import { toolError } from '../../src/systems/pg-tools.js'

describe("a PostgreSQL tool's error line", () => {
  it('quotes the error, never the statement that pg_restore shows after it', () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "app" does not exist',
      "Command was: CREATE SUBSCRIPTION s CONNECTION 'host=db password=hunter2'",
      '  PUBLICATION p;',
    ].join('\n')
    expect(toolError({ exitCode: 1, stderr })).toBe('pg_restore: error: could not execute query: ERROR:  role "app" does not exist')
    expect(toolError({ exitCode: 1, stderr })).not.toMatch(/hunter2/)
  })

  it('falls back to the last line, or says there was none', () => {
    expect(toolError({ exitCode: 1, stderr: 'pg_dump: something odd\npg_dump: the end' })).toBe('pg_dump: the end')
    expect(toolError({ exitCode: 1, stderr: '' })).toBe('no error output')
    expect(toolError({ exitCode: 1, stderr: 'Command was: DROP TABLE x;' }, 'exit 1')).toBe('exit 1')
  })
})
