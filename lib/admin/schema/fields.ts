/**
 * Request validation with zod. Objects are strict: an unknown field is a 400 naming it. Every
 * other failure is a 400 naming the field and what was expected. Nothing is written before
 * validation passes.
 */
import { z } from 'zod';
import { allowedRouteProblem, MAX_ALLOWED_ROUTES } from '../../checks/route-access.js';
import { idProblem } from '../../domain/ids.js';
import { isDuration } from '../../domain/periods.js';
import { secretTagIndex } from '../../domain/spend-log.js';
import { InvalidRequestError, UnknownFieldError } from '../../errors.js';

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw new InvalidRequestError('invalid request body');
  if (issue.code === 'unrecognized_keys') {
    const field = [...issue.path, issue.keys[0]].join('.');
    throw new UnknownFieldError(field);
  }
  const field = issue.path.join('.') || '(body)';
  throw new InvalidRequestError(`\`${field}\`: ${issue.message}`, issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_field', field);
}

/** A query flag: `true`/`false`, as JSON or as query text. */
export const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' });

/** An entity id (lib/domain/ids): what JWT claims and the body's `user` may name, the admin API accepts. */
export const id = z.string().superRefine((s, ctx) => {
  const problem = idProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** The largest amount of dollars taken: far above any budget, and within what DynamoDB stores exactly enough. */
export const MAX_MONEY = 1e12;
export const money = z
  .number()
  .finite()
  .nonnegative('must be a non-negative number')
  .max(MAX_MONEY, `must be at most ${MAX_MONEY} dollars`)
  // Below a nano-dollar (Tollgate's unit) a figure is 0 for every check, and DynamoDB cannot store
  // the smallest doubles at all: refused, not rounded away.
  .refine((v) => v === 0 || v >= 1e-9, 'must be 0 or at least 0.000000001 (a nano-dollar)');
export const optionalMoney = money.nullable().optional();
export const duration = z.string().refine(isDuration, 'must look like 30s, 15m, 24h, 30d, 2w or 1mo, at most ten years');
export const models = z.array(z.string().min(1).max(256)).max(1000);
/** A key's `allowed_routes`: each entry a route group or a path that covers a route (lib/checks/route-access). */
export const allowedRoutes = z
  .array(
    z.string().superRefine((entry, ctx) => {
      const problem = allowedRouteProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  )
  .max(MAX_ALLOWED_ROUTES);
/** Bounds on free-form metadata: every self-service caller may write it, to an item and its audit copy. */
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_METADATA_DEPTH = 16;

/** How deep a JSON value nests (iterative: a hostile value cannot overflow the stack here). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d);
    if (max > MAX_METADATA_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** The limits LiteLLM reads from an entity's metadata (its per-model rate limits). */
export const LITELLM_METADATA_LIMITS = ['model_rpm_limit', 'model_tpm_limit'] as const;

/**
 * Metadata: a JSON object kept exactly as sent. Not z.record: it rebuilds the object by
 * assignment, which turns a `__proto__` key into a prototype and drops it.
 */
export const metadata = z
  .unknown()
  .superRefine((v, ctx) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      ctx.addIssue({ code: 'invalid_type', expected: 'object', input: v, message: 'must be a JSON object' });
  })
  .transform((v) => v as Record<string, unknown>)
  .refine((m) => depthOf(m) <= MAX_METADATA_DEPTH, { message: `must nest at most ${MAX_METADATA_DEPTH} levels deep`, abort: true })
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, `must be at most ${MAX_METADATA_BYTES / 1024} KB as JSON`)
  // LiteLLM reads these limits from metadata; here they are fields of their own (keys and teams),
  // and a metadata copy would be stored and enforced by nothing.
  .superRefine((m, ctx) => {
    for (const f of LITELLM_METADATA_LIMITS)
      if (Object.hasOwn(m, f))
        ctx.addIssue({
          code: 'custom',
          path: [f],
          message: `\`${f}\` is not read from metadata here (LiteLLM reads it there): give it as the key's or team's own \`${f}\` field`,
        });
  })
  // `tags` are copied into every spend log of the key's or team's requests (lib/domain/spend-log).
  .superRefine((m, ctx) => {
    const i = secretTagIndex(m.tags);
    if (i !== undefined)
      ctx.addIssue({ code: 'custom', path: ['tags', i], message: 'must not be a secret: it looks like an API key or token' });
  });
export const enforcement = z.enum(['fast', 'strict']);
export const limit = z.coerce.number().int().min(1).max(1000);
/** Query-string numbers arrive as strings. */
export const queryMoney = z.coerce.number().finite().nonnegative();

/** Budget fields shared by every budgeted entity, with LiteLLM's names. */
export const budgetLimitFields = {
  max_budget: optionalMoney,
  budget_duration: duration.nullable().optional(),
};
/**
 * The same plus `enforcement`: keys, teams and organizations only, the entities whose mode
 * lib/domain/enforcement reads (users and end users would store it and change nothing).
 */
export const budgetFields = {
  ...budgetLimitFields,
  enforcement: enforcement.nullable().optional(),
};

/** A rate limit (requests, tokens or calls in flight): a whole number >= 0, null to remove it. */
export const rateCap = z
  .number()
  .int('must be a whole number')
  .nonnegative('must be 0 or more')
  .max(Number.MAX_SAFE_INTEGER, 'is too large')
  .nullable()
  .optional();
export const MAX_MODEL_LIMITS = 1000;

/**
 * Per-model limits (`{"gpt-4o": 100}`): model name -> whole number >= 0, kept exactly as sent.
 * Not z.record: it rebuilds the object by assignment, which drops a `__proto__` entry.
 */
export const modelCaps = z
  .unknown()
  .superRefine((v, ctx) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.addIssue({ code: 'invalid_type', expected: 'object', input: v, message: 'must be a JSON object of model name -> limit' });
      return;
    }
    const entries = Object.entries(v);
    if (entries.length > MAX_MODEL_LIMITS) ctx.addIssue({ code: 'custom', message: `must name at most ${MAX_MODEL_LIMITS} models` });
    for (const [model, n] of entries) {
      if (model.length < 1 || model.length > 256) ctx.addIssue({ code: 'custom', message: 'model names must be 1 to 256 characters' });
      else if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
        ctx.addIssue({ code: 'custom', path: [model], message: 'must be a whole number, 0 or more' });
    }
  })
  .transform((v) => v as Record<string, number>)
  .nullable()
  .optional();

/** LiteLLM's rate-limit fields of keys, users, teams, team members and organizations (lib/domain/rate-limits). */
export const rateLimitFields = {
  rpm_limit: rateCap,
  tpm_limit: rateCap,
  max_parallel_requests: rateCap,
};
/** Per-model rate limits: keys and teams. */
export const modelRateLimitFields = {
  model_rpm_limit: modelCaps,
  model_tpm_limit: modelCaps,
};

/** Budget alerts (lib/domain/alerts): a soft budget, and thresholds as percentages of max_budget. */
export const alertFields = {
  soft_budget: optionalMoney,
  alert_thresholds: z
    .array(z.number().int('must be whole percentages').min(1, 'must be 1 to 1000').max(1000, 'must be 1 to 1000'))
    .max(10, 'at most 10 thresholds')
    .transform((l) => [...new Set(l)].sort((a, b) => a - b))
    .nullable()
    .optional(),
};
