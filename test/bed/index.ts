/**
 * What integration tests import: the running bed's connection info, and helpers for faults and
 * containers.
 *
 *   import { bed, pausePostgres, resumePostgres, runPostgresContainer } from '../bed/index.js';
 *   const { postgres, redis, alertmanager, docker } = bed();
 *
 * Monitoring (Prometheus, exporters, generated agents, Loki) starts on demand: startMonitoring().
 */
import { inject } from 'vitest'
import type { BedInfo } from './global-setup.js'

export type { BedInfo } from './global-setup.js'

/**
 * Connection info of the services the integration project's globalSetup started: the bed of this
 * worker (VITEST_POOL_ID counts the workers that may run at once from 1), so that two test files
 * running side by side never share a PostgreSQL, a Redis or a Docker engine.
 */
export function bed(): BedInfo {
  const beds = inject('beds')
  if (!beds?.length) {
    throw new Error('test bed: no bed info; is this test in the `integration` vitest project (globalSetup test/bed/global-setup.ts)?')
  }
  const worker = Number(process.env.VITEST_POOL_ID ?? 1)
  const info = beds[(worker - 1) % beds.length]
  if (!info) throw new Error(`test bed: no bed for worker ${worker}`)
  return info
}

/** Environment variables that point probe-ops (and libpq / docker tools) at the bed. */
export function bedEnv(info: BedInfo = bed()): Record<string, string> {
  return {
    PGHOST: info.postgres.host,
    PGPORT: String(info.postgres.port),
    PGUSER: info.postgres.user,
    PGPASSWORD: info.postgres.password,
    PGDATABASE: info.postgres.database,
    REDIS_URL: info.redis.url,
    DOCKER_HOST: info.docker.host,
    ALERTMANAGER_URL: info.alertmanager.url,
  }
}

export { freePort } from './ports.js'
export {
  PG_BIN_DIR,
  createDatabase,
  pausePostgres,
  pgClientConfig,
  pgQuery,
  randomPassword,
  resumePostgres,
  startPostgres,
  waitForPostgres,
  type PauseOptions,
  type PostgresInfo,
  type PostgresServer,
  type StartPostgresOptions,
} from './postgres.js'
export { redisPing, startRedis, type RedisInfo, type RedisServer, type StartRedisOptions } from './redis.js'
export { ALERTMANAGER_BASIC_AUTH, startAlertmanager, type AlertmanagerInfo, type AlertmanagerServer } from './alertmanager.js'
export {
  prometheusQuery,
  startPrometheus,
  waitForPrometheusData,
  type PrometheusInfo,
  type PrometheusServer,
  type StartPrometheusOptions,
} from './prometheus.js'
export {
  BED_IMAGE,
  HOST_RO_MOUNTS,
  composeLabels,
  dockerCli,
  dockerPing,
  removeAllContainers,
  runCommandContainer,
  runPostgresContainer,
  runSleeperContainer,
  startDockerEngine,
  uniqueName,
  type DockerEngine,
  type DockerEngineInfo,
  type PostgresContainer,
  type PostgresContainerOptions,
  type RunContainerOptions,
  type RunningContainer,
  type SleeperOptions,
} from './docker.js'
export { startHangingServer, startRefusedPort, type HangingServer } from './hang.js'
export {
  AGENT_PROFILES,
  AGENT_STATES,
  GUIDE_RULE_GROUPS,
  agentLogEntry,
  lokiQuery,
  prometheusTargets,
  pushToLoki,
  startMonitoring,
  waitForScrapes,
  type AgentSpec,
  type AgentState,
  type LogEntry,
  type MonitoringInfo,
  type MonitoringServer,
  type ScrapeTargetState,
  type StartMonitoringOptions,
} from './monitoring.js'
