import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // The machine running this has 2 cores; integration tests run one file at a time anyway.
    maxWorkers: 2,
    minWorkers: 1,
    // The integration bed's teardown (dockerd shutdown) may take a while when containers linger.
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // A guard against a hang, not a speed check: generating RSA keys and starting promtool
          // take seconds on a loaded 2-core machine.
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/bed/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two files at a time, each worker with a bed of its own (test/bed/global-setup.ts starts
          // BED_COUNT beds), after the unit project.
          pool: 'forks',
          poolOptions: { forks: { singleFork: false } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
