import { defineConfig } from 'vitest/config';

/**
 * Two groups, one after the other. Most files are quick and mostly wait on sockets, so they run
 * several at a time. The heavy ones start several processes each (replicas, Redis, nginx, k6, a
 * Kubernetes control plane) and spend most of their time in timed outages and load phases; two of
 * them at a time keep the suite short without starving each other of the machine's cores.
 */
const HEAVY = [
  'test/loadtest/**/*.test.ts',
  'test/cluster/**/*.test.ts',
  'test/deploy/kube.test.ts',
  'test/deploy/podspec.test.ts',
  'test/deploy/prometheus-scrape.test.ts',
  'test/lifecycle/slow-readers.test.ts',
  'test/lifecycle/drain.test.ts',
];

const shared = { testTimeout: 30_000, hookTimeout: 60_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'quick',
          include: ['test/**/*.test.ts'],
          exclude: HEAVY,
          maxWorkers: Number(process.env.KIRO_TEST_WORKERS ?? 3),
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'heavy',
          include: HEAVY,
          maxWorkers: Number(process.env.KIRO_TEST_HEAVY_WORKERS ?? 2),
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
