import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests (no network beyond 127.0.0.1, no Docker) and
// integration tests that use real servers, real processes and real filesystems.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.itest.ts'],
          // Installs missing Debian tools and starts a Docker daemon when none answers.
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          // Integration tests spawn many processes; keep the 2-core machine responsive.
          fileParallelism: false,
        },
      },
    ],
  },
});
