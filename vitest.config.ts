import { defineConfig } from 'vitest/config';

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
          // Real shared services (one postgres, one docker engine): one file at a time, in one
          // forked process, after the unit project.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
