import { defineConfig } from 'vitest/config';

// Multi-worker stress tests spawn their own worker threads and some assert progress windows,
// so test files run one at a time on the 2-core machines (fileParallelism: false).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
