import { createRequire } from 'node:module'
import type Docker from 'dockerode'

/**
 * The CommonJS client libraries, each loaded the first time a step needs it (and only then: a
 * diagnose of a platform without Docker never loads dockerode).
 *
 * Through require(), not import(): importing a CommonJS package from ES modules also builds an
 * ES module view of it on top of the require, which cost 0.03–0.06 s of CPU and 4–5 MiB of peak
 * memory more per library on Node 22 (docs/benchmarks.md, "Issue 13 §7: the cost of a run").
 * require() caches each module, so every caller shares the one instance, whoever asks first.
 */
const load = createRequire(import.meta.url)

export const loadUndici = (): typeof import('undici') => load('undici') as typeof import('undici')

export const loadIoredis = (): typeof import('ioredis') => load('ioredis') as typeof import('ioredis')

export const loadDockerode = (): typeof Docker => load('dockerode') as typeof Docker
