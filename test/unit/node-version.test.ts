import { describe, expect, it } from 'vitest'

// @ts-expect-error: bin/ is plain JavaScript, run before anything is compiled
import { MINIMUM_NODE, nodeTooOld } from '../../bin/node-version.js'

describe('the Node.js version bin/run.js accepts', () => {
  it('refuses Node 20 and a Node 22 without zstd in node:zlib, accepts 22.15 and later, and 24', () => {
    expect(MINIMUM_NODE).toBe('22.15.0')
    for (const old of ['18.19.0', '20.19.2', '22.0.0', '22.12.0', '22.14.9']) expect((nodeTooOld as (v: string) => boolean)(old), old).toBe(true)
    for (const good of ['22.15.0', '22.23.3', '23.0.0', '24.21.0']) expect((nodeTooOld as (v: string) => boolean)(good), good).toBe(false)
  })

  it('is what package.json promises', async () => {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } })
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE}`)
  })
})
