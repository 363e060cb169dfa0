import type { StepDefinition } from '../../report/outcome.js'
import { probeHttp } from '../../systems/http.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { HttpData } from './data.js'
import { httpFindings } from './findings.js'

export const http: StepDefinition<DiagnoseContext, HttpData> = {
  timeoutMs: checkBound,
  async run({ config, checkTimeoutMs }) {
    const services = config.services.filter((s) => s.readiness === 'http' && s.url)
    if (services.length === 0) return { skipped: true, summary: 'no service has an HTTP health check' }
    const probes = await Promise.all(services.map(async (s) => ({ service: s.name, ...(await probeHttp(s.url!, checkTimeoutMs, s.credentials)) })))
    return {
      summary: probes.map((p) => `${p.service} ${p.ok ? p.status : 'down'}`).join(', '),
      findings: httpFindings(probes, config.diagnose.slowHttpMs),
      details: probes.filter((p) => p.ok).map((p) => `${p.service} ${p.url}: ${p.status} in ${p.latencyMs} ms`),
      data: { endpoints: probes },
    }
  },
}
