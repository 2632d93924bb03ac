import { describe, expect, it } from 'vitest';
import { configureApp } from '../../../lib/app/index.js';
import { ConfigError, parseConfig } from '../../../lib/config.js';
import { upstreamSecret } from '../../../lib/secrets.js';

describe('TOLLGATE_LOCAL_SECRETS', () => {
  it('maps secret names to values', () => {
    expect(parseConfig({ TOLLGATE_LOCAL_SECRETS: '{"a":"sk-1"}' }).localSecrets).toEqual({ a: 'sk-1' });
    expect(parseConfig({}).localSecrets).toBeUndefined();
  });

  it('rejects anything but an object of strings without echoing the value', () => {
    for (const bad of ['{"a":', '["sk-secret-value"]', '{"a":1}', 'sk-secret-value']) {
      let error: unknown;
      try {
        parseConfig({ TOLLGATE_LOCAL_SECRETS: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('TOLLGATE_LOCAL_SECRETS: must be a JSON object of secret name to value');
      expect((error as Error).message).not.toContain('sk-secret-value');
    }
  });

  it('is the only source of upstream keys once set (Secrets Manager is not asked)', async () => {
    configureApp({ config: { TOLLGATE_LOCAL_SECRETS: '{"known":"sk-local"}', TOLLGATE_LOG_LEVEL: 'SILENT' } });
    await expect(upstreamSecret('known')).resolves.toBe('sk-local');
    await expect(upstreamSecret('unknown')).resolves.toBeUndefined();
    await expect(upstreamSecret('toString')).resolves.toBeUndefined();
  });
});

describe('settlement and passthrough settings', () => {
  it('default to a week of idempotency and no passthrough model', () => {
    const c = parseConfig({});
    expect(c.settlementTtlSeconds).toBe(1_296_000);
    expect(c.passthroughModel).toBeUndefined();
  });

  it('refuse a settlement TTL under a minute', () => {
    expect(() => parseConfig({ TOLLGATE_SETTLEMENT_TTL_SECONDS: '5' })).toThrow(ConfigError);
  });
});
