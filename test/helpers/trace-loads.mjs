// Registered with `node --import`: records every module the process loads, through import or
// through require (module.registerHooks sees both, in the loading thread), one line per
// resolution in TRACE_LOADS_FILE: "import|require SPECIFIER URL". A test reads it back with
// traceLoads() (test/helpers/loads.ts).
import { appendFileSync } from 'node:fs'
import { registerHooks } from 'node:module'

const out = process.env.TRACE_LOADS_FILE
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context)
    appendFileSync(out, `${context.conditions?.includes('require') ? 'require' : 'import'} ${specifier} ${resolved.url}\n`)
    return resolved
  },
})
