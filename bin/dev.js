#!/usr/bin/env -S node --import tsx
import { execute } from '@oclif/core'
import { guardStandardOutput } from '../src/cli/output.ts'

guardStandardOutput()

await execute({ development: true, dir: import.meta.url })
