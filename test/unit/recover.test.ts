import { describe, expect, it } from 'vitest'
import { parseConfigText, resolveConfig, type Config } from '../../src/config/load.js'
import { UsageError } from '../../src/errors.js'
import { forcedServices, recoverOptions } from '../../src/jobs/recover/context.js'
import { recoveryOrder } from '../../src/jobs/recover/plan.js'
import { recover } from '../../src/jobs/recover/spec.js'
import { stepsOf } from '../../src/jobs/spec.js'

/** The guide's four services (management depends on postgres and redis), and what a test adds. */
function config(yaml = ''): Config {
  return resolveConfig(parseConfigText(yaml, 'test'), null, {})
}

const names = (services: { name: string }[]) => services.map((s) => s.name)

describe('recovery order', () => {
  it('puts dependencies first, each service once, and every service when none is named', () => {
    const { services } = config()
    expect(names(recoveryOrder(services, ['management']))).toEqual(['postgres', 'redis', 'management'])
    expect(names(recoveryOrder(services, ['redis', 'management', 'postgres']))).toEqual(['redis', 'postgres', 'management'])
    expect(names(recoveryOrder(services, []))).toEqual(['postgres', 'redis', 'management', 'web'])
  })

  it('follows dependencies of dependencies', () => {
    const { services } = config('services:\n  web:\n    dependsOn: [management]\n')
    expect(names(recoveryOrder(services, ['web']))).toEqual(['postgres', 'redis', 'management', 'web'])
  })

  it('refuses an unknown service and a circle of dependencies as usage errors that say what to fix', () => {
    const { services } = config()
    expect(() => recoveryOrder(services, ['mysql'])).toThrow(UsageError)
    expect(() => recoveryOrder(services, ['mysql'])).toThrow('unknown service "mysql"')
    const circle = config('services:\n  postgres:\n    dependsOn: [web]\n  web:\n    dependsOn: [management]\n').services
    expect(() => recoveryOrder(circle, ['web'])).toThrow('services depend on each other in a circle: web -> management -> postgres -> web')
  })
})

describe('--force and the options', () => {
  const { services } = config()

  it('forces only the services named, never the dependencies recovered for them', () => {
    const options = recoverOptions({ services: ['management'], all: false, force: true })
    expect([...forcedServices(services, options)]).toEqual(['management'])
    expect(names(recoveryOrder(services, options.services))).toEqual(['postgres', 'redis', 'management'])
  })

  it('forces every service when none is named, and none without --force', () => {
    expect([...forcedServices(services, recoverOptions({ services: [], all: true, force: true }))].sort()).toEqual(['management', 'postgres', 'redis', 'web'])
    expect([...forcedServices(services, recoverOptions({ services: ['redis'], all: false, force: false }))]).toEqual([])
  })

  it('refuses services and --all together', () => {
    expect(() => recoverOptions({ services: ['redis'], all: true, force: false })).toThrow('give services or --all, not both')
  })

  it('makes one step per service, dependencies first, named after it', () => {
    const steps = stepsOf(recover, config(), recoverOptions({ services: ['management'], all: false, force: false }))
    expect(steps.map((s) => [s.id, s.title])).toEqual([
      ['postgres', 'Recover postgres'],
      ['redis', 'Recover redis'],
      ['management', 'Recover management'],
    ])
  })
})
