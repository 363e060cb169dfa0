import { formatSize } from '../../lib/format.js'
import type { StepDefinition } from '../../report/outcome.js'
import { cpuUsage, diskUsage, memoryUsage } from '../../systems/host.js'
import { describeDisks } from '../shared/disk-usage.js'
import { checkBound, type DiagnoseContext } from './context.js'
import type { HostData } from './data.js'
import { hostFindings } from './findings.js'

export const host: StepDefinition<DiagnoseContext, HostData> = {
  timeoutMs: checkBound,
  async run({ config, cpuSample }) {
    const [cpu, memory, disks] = await Promise.all([cpuUsage(200, cpuSample), memoryUsage(), Promise.all(config.disk.paths.map((p) => diskUsage(p)))])
    return {
      summary: `cpu ${cpu.usagePercent}%, memory ${memory.usedPercent}%, disk ${describeDisks(disks)}`,
      findings: hostFindings(cpu, memory, disks, config.disk),
      details: [
        `cpu ${cpu.usagePercent}% of ${cpu.cores} cores, load ${cpu.load1.toFixed(2)} ${cpu.load5.toFixed(2)} ${cpu.load15.toFixed(2)}`,
        `memory ${memory.usedPercent}% used, ${formatSize(memory.availableBytes)} available of ${formatSize(memory.totalBytes)}`,
        ...disks.map((d) => (d.error ? `disk ${d.path}: ${d.error}` : `disk ${d.path} (${d.mount}) ${d.usedPercent}% used, ${formatSize(d.freeBytes!)} free`)),
      ],
      data: { cpu, memory, disks },
    }
  },
}
