import { probeHttp } from '../../systems/http.js'
import type { Step } from '../../report/runner.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

export const httpStep: Step<DiagnoseContext> = {
  id: 'http',
  title: 'HTTP endpoints',
  async run({ config }) {
    const services = config.services.filter((s) => s.readiness === 'http' && s.url)
    if (services.length === 0) return { status: 'skipped', summary: 'no service has an HTTP health check' }
    const probes = await Promise.all(
      services.map(async (s) => ({ service: s.name, ...(await probeHttp(s.url!, config.diagnose.checkTimeoutMs, s.credentials)) })),
    )
    const problems: Problem[] = []
    for (const p of probes) {
      if (!p.ok)
        problems.push({ severity: 'failed', message: `${p.service} ${p.url}: ${p.error ?? `HTTP ${p.status}`}`, next: `probe-ops recover ${p.service}` })
      else if (p.latencyMs > config.diagnose.slowHttpMs)
        problems.push({
          severity: 'warning',
          message: `${p.service} answered in ${p.latencyMs} ms`,
          next: 'look at its load: probe-ops diagnose --only postgres,redis',
        })
    }
    const details = probes.filter((p) => p.ok).map((p) => `${p.service} ${p.url}: ${p.status} in ${p.latencyMs} ms`)
    const summary = probes.map((p) => `${p.service} ${p.ok ? p.status : 'down'}`).join(', ')
    return verdict(summary, details, problems, { endpoints: probes })
  },
}
