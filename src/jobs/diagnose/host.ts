import { cpuUsage, diskUsage, formatBytes, memoryUsage } from '../../systems/host.js'
import type { Step } from '../../report/runner.js'
import { verdict, type DiagnoseContext, type Problem } from './context.js'

export const hostStep: Step<DiagnoseContext> = {
  id: 'host',
  title: 'Host resources',
  async run({ config, cpuSample }) {
    const [cpu, memory, disks] = await Promise.all([cpuUsage(200, cpuSample), memoryUsage(), Promise.all(config.disk.paths.map((p) => diskUsage(p)))])
    const problems: Problem[] = []
    if (cpu.load5 > cpu.cores * 2)
      problems.push({
        severity: 'warning',
        message: `load average ${cpu.load5.toFixed(2)} on ${cpu.cores} cores`,
        next: 'find the busy processes with `top -o %CPU`',
      })
    if (memory.usedPercent >= 90)
      problems.push({ severity: 'warning', message: `memory ${memory.usedPercent}% used`, next: 'find the largest processes with `ps aux --sort=-rss | head`' })
    for (const disk of disks) {
      if (disk.error) problems.push({ severity: 'warning', message: `disk path ${disk.path}: ${disk.error}`, next: 'fix disk.paths in the configuration' })
      else if (disk.usedPercent! >= config.disk.criticalPercent)
        problems.push({
          severity: 'failed',
          message: `disk ${disk.path} ${disk.usedPercent}% full`,
          next: 'free space: `probe-ops maintain daily --only clean-logs,clean-temp,retention`, then `probe-ops capacity-report`',
        })
      else if (disk.usedPercent! >= config.disk.warningPercent)
        problems.push({ severity: 'warning', message: `disk ${disk.path} ${disk.usedPercent}% full`, next: '`probe-ops capacity-report` says when it fills' })
    }
    const diskText = disks.map((d) => (d.error ? `${d.path} ?` : `${d.path} ${d.usedPercent}%`)).join(', ')
    const details = [
      `cpu ${cpu.usagePercent}% of ${cpu.cores} cores, load ${cpu.load1.toFixed(2)} ${cpu.load5.toFixed(2)} ${cpu.load15.toFixed(2)}`,
      `memory ${memory.usedPercent}% used, ${formatBytes(memory.availableBytes)} available of ${formatBytes(memory.totalBytes)}`,
      ...disks.map((d) => (d.error ? `disk ${d.path}: ${d.error}` : `disk ${d.path} (${d.mount}) ${d.usedPercent}% used, ${formatBytes(d.freeBytes!)} free`)),
    ]
    return verdict(`cpu ${cpu.usagePercent}%, memory ${memory.usedPercent}%, disk ${diskText}`, details, problems, { cpu, memory, disks })
  },
}
