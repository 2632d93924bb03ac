import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Metrics are EMF lines on stdout: off in tests (test/unit/metrics.test.ts turns them on to read them).
    env: { POWERTOOLS_METRICS_DISABLED: 'true' },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/providers/**'],
          globalSetup: ['test/support/global-dynamo.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      // Provider modules against loopback mocks (Bedrock runtime, Anthropic, OpenAI): no DynamoDB, no Java.
      { test: { name: 'providers', include: ['test/integration/providers/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000 } },
      {
        test: {
          // Debian's Chromium against `npm start`; the console is built by the global setup.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/browser/build-console.ts'],
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-dynamo.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
