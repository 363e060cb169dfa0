import { describe, expect, it } from 'vitest'
import { errorLines, lineTime, withinWindow } from '../../src/systems/services.js'

const now = Date.parse('2026-11-25T12:00:00Z')

describe('recent log lines', () => {
  it('reads the time of the log formats the platform writes', () => {
    expect(lineTime('2026-11-25T11:30:00.123Z ERROR boom')).toBe(Date.parse('2026-11-25T11:30:00.123Z'))
    expect(lineTime('2026-11-25 11:30:00.123 UTC [42] ERROR:  deadlock detected')).toBe(Date.parse('2026-11-25T11:30:00.123Z'))
    expect(lineTime('{"timestamp":"2026-11-25T09:00:00Z","level":"error","message":"x"}')).toBe(Date.parse('2026-11-25T09:00:00Z'))
    expect(lineTime('{"ts":1795600000,"msg":"x"}')).toBe(1795600000000)
    expect(lineTime('1234:M 25 Nov 2026 11:45:00.906 * Ready to accept connections')).toBe(new Date(2026, 10, 25, 11, 45, 0).getTime())
    expect(lineTime('Traceback (most recent call last):')).toBeUndefined()
  })

  it('keeps the lines inside the window and those without a time', () => {
    const lines = ['2026-11-25T09:00:00Z ERROR old', '2026-11-25T11:30:00Z ERROR new', 'ERROR no time', '{"timestamp":"2026-11-24T00:00:00Z","level":"error"}']
    expect(withinWindow(lines, 3_600_000, now)).toEqual(['2026-11-25T11:30:00Z ERROR new', 'ERROR no time'])
  })

  it('finds error lines by level words', () => {
    expect(errorLines(['INFO ok', 'ERROR: x', 'FATAL y', 'panic: z', 'an Exception occurred', 'errors=0 is fine?', 'Traceback (most recent call last):'])).toEqual(['ERROR: x', 'FATAL y', 'panic: z', 'an Exception occurred', 'Traceback (most recent call last):'])
  })
})
