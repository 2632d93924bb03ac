/** Secrets never reach an error: whatever input a message or param quotes (lib/errors, lib/domain/secrets). */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError, NotFoundError, UnknownFieldError } from '../../lib/errors.js';

const KEY = 'sk-Zq3vQm8TnR2pL5xW7yK9bC1dF4gH6jA0';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl';

describe('an error never repeats a key or token', () => {
  it('an unknown field named like a key says so without the name', () => {
    const e = new UnknownFieldError(KEY);
    expect(e.message).toBe('an unknown field whose name looks like a key (not repeated)');
    expect(`${e.message} ${JSON.stringify(e)} ${JSON.stringify(e.toBody())}`).not.toContain(KEY);
  });

  it('a nested one too, the path around it kept', () => {
    const e = new UnknownFieldError(`litellm_params.${KEY}`);
    expect(e.param).toMatch(/^litellm_params\./);
    expect(JSON.stringify(e.toBody())).not.toContain(KEY);
  });

  it('any message or param quoting input is cleaned: a duplicate field, a zod path, a missing model', () => {
    for (const e of [
      new InvalidRequestError(`the request body gives \`${KEY}\` twice: give each field once`, 'duplicate_field', KEY),
      new InvalidRequestError(`\`model_rpm_limit.${JWT}\`: must be a whole number, 0 or more`, 'invalid_field', `model_rpm_limit.${JWT}`),
      new NotFoundError('model', `Bearer ${JWT}`),
    ]) {
      const text = `${e.message} ${JSON.stringify(e.toBody())}`;
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(JWT);
    }
  });

  it('an ordinary unknown field is still named', () => {
    expect(new UnknownFieldError('expand').message).toBe('unknown field `expand`');
    expect(new UnknownFieldError('expand').param).toBe('expand');
  });
});
