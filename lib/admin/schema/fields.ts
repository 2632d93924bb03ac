/**
 * Request validation with zod. Objects are strict: an unknown field is a 400 naming it. Every
 * other failure is a 400 naming the field and what was expected. Nothing is written before
 * validation passes.
 */
import { z } from 'zod';
import { idProblem } from '../../domain/ids.js';
import { isDuration } from '../../domain/periods.js';
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

/** An entity id (lib/domain/ids): what JWT claims and the body's `user` may name, the admin API accepts. */
export const id = z.string().superRefine((s, ctx) => {
  const problem = idProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const money = z.number().finite().nonnegative('must be a non-negative number');
export const optionalMoney = money.nullable().optional();
export const duration = z.string().refine(isDuration, 'must look like 30s, 15m, 24h, 30d, 2w or 1mo, at most ten years');
export const models = z.array(z.string().min(1).max(256)).max(1000);
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
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, `must be at most ${MAX_METADATA_BYTES / 1024} KB as JSON`);
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
