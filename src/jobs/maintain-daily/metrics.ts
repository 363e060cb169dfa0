import type { JobMetrics, MetricSample } from '../../report/job-metrics.js'
import { DISK_USED } from '../capacity/metrics.js'
import { stepData } from '../shared/metrics.js'
import { diskData } from './data.js'

/** maintain daily's gauges: how full each mount of disk.paths is (one sample per mount, however many paths share it). */
export const maintainDailyMetrics: JobMetrics = {
  families: [DISK_USED],
  samples(report) {
    const samples = new Map<string, MetricSample>()
    for (const disk of stepData(report, 'disk', diskData)?.data.disks ?? []) {
      const mount = disk.mount ?? disk.path
      if (disk.usedPercent !== undefined && !samples.has(mount)) samples.set(mount, { family: DISK_USED, labels: { mount }, value: disk.usedPercent })
    }
    return [...samples.values()]
  },
}
