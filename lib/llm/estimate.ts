/**
 * Strict mode's estimate of what a call may cost, before it is made: an upper bound for text.
 *  - input: the request body's size in bytes. Every BPE token of a text covers at least one
 *    byte, and the JSON around the text (quotes, keys) outweighs the few tokens a chat template
 *    adds, so text prompts never tokenize to more. Images, audio and files can: their tokens
 *    are not bounded by their bytes, and what they cost beyond the estimate is the overshoot.
 *  - output: the largest of `max_tokens`, `max_completion_tokens` and `max_output_tokens` (else the
 *    configured default, TOLLGATE_STRICT_DEFAULT_MAX_TOKENS) times `n` times `best_of`: OpenAI
 *    generates `best_of` candidates and returns `n` of them, but an upstream may read them otherwise
 *    (one `n` per candidate), and an upper bound must hold for every reading; none for embeddings. Limits out of range never get here: they are a 400 (lib/llm/request).
 */
import type { Usage } from '../domain/cost.js';
import { type LlmRequest, OUTPUT_LIMIT_FIELDS } from './request.js';

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);

export function estimateUsage(req: Pick<LlmRequest, 'body' | 'route'>, defaultMaxTokens: number): Usage {
  const inputTokens = bodyBytes(req.body);
  if (req.route.generates === false) return { inputTokens, outputTokens: 0 };
  const json = req.body.kind === 'json' ? req.body.value : undefined;
  // An upper bound: the largest of every output limit given (an upstream may honour any of them),
  // times every choice it may generate (`n` answers of `best_of` candidates each, at most).
  const limits = OUTPUT_LIMIT_FIELDS.map((f) => positiveInt(json?.[f])).filter((v): v is number => v !== undefined);
  const limit = limits.length > 0 ? Math.max(...limits) : defaultMaxTokens;
  const choices = (positiveInt(json?.n) ?? 1) * (positiveInt(json?.best_of) ?? 1);
  return { inputTokens, outputTokens: limit * choices };
}

function bodyBytes(body: LlmRequest['body']): number {
  switch (body.kind) {
    case 'none':
      return 0;
    case 'json':
      return Buffer.byteLength(JSON.stringify(body.value));
    case 'raw':
      return body.bytes.length;
    case 'form': {
      let n = 0;
      for (const [, v] of body.value) n += typeof v === 'string' ? Buffer.byteLength(v) : v.size;
      return n;
    }
  }
}
