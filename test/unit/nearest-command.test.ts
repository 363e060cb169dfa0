import { describe, expect, it } from 'vitest'
import { nearestCommand } from '../../src/cli/nearest-command.js'

const COMMANDS = [
  'diagnose',
  'maintain:daily',
  'maintain:weekly',
  'maintain',
  'config:show',
  'config:validate',
  'config',
  'cert:check',
  'backup:prune',
  'backup:list',
  'restore',
  'recover',
]

describe('the command an unknown one was meant as', () => {
  it('suggests the nearest command for a typo', () => {
    expect(nearestCommand('diagnoze', COMMANDS)).toBe('diagnose')
    expect(nearestCommand('maintain:dayly', COMMANDS)).toBe('maintain:daily')
    expect(nearestCommand('config:shwo', COMMANDS)).toBe('config:show')
    expect(nearestCommand('mantain', COMMANDS)).toBe('maintain')
    expect(nearestCommand('restor', COMMANDS)).toBe('restore')
  })

  it('suggests nothing for a different word', () => {
    expect(nearestCommand('xyzzy', COMMANDS)).toBeUndefined()
    expect(nearestCommand('deploy', COMMANDS)).toBeUndefined()
  })
})
