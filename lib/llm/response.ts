/** What the llm handler returns to middy's streaming mode: metadata, then a string or a stream. */
import type { Readable } from 'node:stream';
import type { TollgateError } from '../errors.js';

export interface LlmResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string | Readable;
}

const JSON_TYPE = 'application/json';

export const jsonResponse = (statusCode: number, value: unknown, headers: Record<string, string> = {}): LlmResponse => ({
  statusCode,
  headers: { ...headers, 'content-type': JSON_TYPE },
  body: JSON.stringify(value),
});

/** The headers an error carries (a 429's `retry-after`), whatever shape its body takes. */
export const errorHeaders = (e: TollgateError): Record<string, string> =>
  'headers' in e ? { ...(e.headers as Record<string, string>) } : {};

/** Every error leaves as OpenAI's `{"error": {message, type, param, code}}`. */
export const errorResponse = (e: TollgateError): LlmResponse => jsonResponse(e.status, e.toBody(), errorHeaders(e));

/** Text answers go back as strings; anything else (audio, files) as bytes. */
export const isTextual = (contentType: string | undefined): boolean =>
  !contentType || /^(text\/|application\/(json|[\w.+-]*\+json|x-ndjson|xml|javascript))/i.test(contentType);
