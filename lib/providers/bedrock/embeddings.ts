/**
 * OpenAI embeddings through Bedrock's InvokeModel, in each model family's own body: pure.
 *  - Amazon Titan Text Embeddings v2 (`amazon.titan-embed-text-v2:0`): one text per call,
 *    `{inputText, dimensions?, normalize}` -> `{embedding, inputTextTokenCount}`;
 *  - Titan Text Embeddings v1 (`amazon.titan-embed-text-v1`): `{inputText}`, no dimensions;
 *  - Cohere Embed (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`, `cohere.embed-v4:0`):
 *    up to 96 texts per call, `{texts, input_type, embedding_types}` -> `{embeddings}`; Cohere's
 *    body carries no token count, Bedrock's `X-Amzn-Bedrock-Input-Token-Count` header does.
 * A batch of inputs becomes as many calls as the family needs; their usage is summed. When a
 * call's token count is missing the usage is undefined, and the caller charges its estimate.
 */

import { isObject } from '../../domain/json.js';
import { UpstreamFailedError } from '../../errors.js';
import { UnsupportedParameterError } from '../errors.js';
import type { TokenUsage } from '../types.js';
import { tokens, withSpentUsage, ZERO_USAGE } from '../usage.js';
import { invalid } from './translate.js';

export type EmbeddingFamily = 'titan-v2' | 'titan-v1' | 'cohere-v3' | 'cohere-v4';

/** The family of a Bedrock model id, inference profile or ARN; undefined when it embeds nothing we know. */
export function embeddingFamily(modelId: string): EmbeddingFamily | undefined {
  if (/amazon\.titan-embed-text-v2/.test(modelId)) return 'titan-v2';
  if (/amazon\.titan-embed-text-v1|amazon\.titan-embed-g1-text/.test(modelId)) return 'titan-v1';
  if (/cohere\.embed-v4/.test(modelId)) return 'cohere-v4';
  if (/cohere\.embed-(english|multilingual)-v3/.test(modelId)) return 'cohere-v3';
  return undefined;
}

export type EncodingFormat = 'float' | 'base64';

export interface EmbeddingPlan {
  family: EmbeddingFamily;
  /** One InvokeModel body per call, in order. */
  calls: Record<string, unknown>[];
  encoding: EncodingFormat;
}

/** What one InvokeModel call answered: its parsed body and Bedrock's token header, when sent. */
export interface InvokeResult {
  body: unknown;
  inputTokenCount?: number | undefined;
}

export interface EmbeddingList {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage?: { prompt_tokens: number; total_tokens: number };
}

const COHERE_BATCH = 96;
const TITAN_V2_DIMENSIONS = new Set([256, 512, 1024]);
const COHERE_V4_DIMENSIONS = new Set([256, 512, 1024, 1536]);
const COHERE_INPUT_TYPES = new Set(['search_document', 'search_query', 'classification', 'clustering']);
const FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user', 'input_type']);

/** The calls for an OpenAI embeddings request. Throws a 400 naming the field Bedrock cannot take. */
export function toEmbeddingCalls(body: Record<string, unknown>, modelId: string): EmbeddingPlan {
  const family = embeddingFamily(modelId);
  if (!family)
    throw new UnsupportedParameterError(
      'model',
      'is not a Bedrock embedding model Tollgate can call (Titan Text Embeddings, Cohere Embed)',
    );
  for (const [field, value] of Object.entries(body)) {
    if (value !== null && value !== undefined && !FIELDS.has(field))
      throw new UnsupportedParameterError(field, 'is not supported for Bedrock embeddings');
  }
  const texts = inputTexts(body.input);
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') invalid('encoding_format', 'must be float or base64');
  const dimensions = body.dimensions ?? undefined;
  if (dimensions !== undefined && (typeof dimensions !== 'number' || !Number.isSafeInteger(dimensions)))
    invalid('dimensions', 'must be an integer');
  const inputType = body.input_type ?? undefined;
  if (inputType !== undefined && !family.startsWith('cohere'))
    throw new UnsupportedParameterError('input_type', 'applies to Cohere models only');
  if (inputType !== undefined && (typeof inputType !== 'string' || !COHERE_INPUT_TYPES.has(inputType)))
    invalid('input_type', `must be one of ${[...COHERE_INPUT_TYPES].join(', ')}`);

  const plan = (calls: Record<string, unknown>[]): EmbeddingPlan => ({ family, calls, encoding: encoding as EncodingFormat });
  switch (family) {
    case 'titan-v2':
      if (dimensions !== undefined && !TITAN_V2_DIMENSIONS.has(dimensions as number))
        invalid('dimensions', 'must be 256, 512 or 1024 for Titan Text Embeddings v2');
      return plan(texts.map((inputText) => ({ inputText, ...(dimensions !== undefined ? { dimensions } : {}), normalize: true })));
    case 'titan-v1':
      if (dimensions !== undefined) throw new UnsupportedParameterError('dimensions', 'is not supported by Titan Text Embeddings v1');
      return plan(texts.map((inputText) => ({ inputText })));
    case 'cohere-v3':
    case 'cohere-v4': {
      if (dimensions !== undefined && family === 'cohere-v3')
        throw new UnsupportedParameterError('dimensions', 'is not supported by Cohere Embed v3');
      if (dimensions !== undefined && !COHERE_V4_DIMENSIONS.has(dimensions as number))
        invalid('dimensions', 'must be 256, 512, 1024 or 1536 for Cohere Embed v4');
      const calls: Record<string, unknown>[] = [];
      for (let i = 0; i < texts.length; i += COHERE_BATCH) {
        calls.push({
          texts: texts.slice(i, i + COHERE_BATCH),
          input_type: inputType ?? 'search_document',
          embedding_types: ['float'],
          ...(dimensions !== undefined ? { output_dimension: dimensions } : {}),
        });
      }
      return plan(calls);
    }
  }
}

function inputTexts(input: unknown): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) return invalid('input', 'must be a string or a non-empty array of strings');
  return list.map((text, i) => {
    if (typeof text === 'number' || Array.isArray(text))
      throw new UnsupportedParameterError('input', 'holds token ids; Bedrock embedding models take text');
    if (typeof text !== 'string') return invalid(`input[${i}]`, 'must be a string');
    if (text.length === 0) return invalid(`input[${i}]`, 'must not be empty');
    return text;
  });
}

/** The OpenAI embeddings answer for the calls' results, in order, with the summed usage. */
/** A result's input tokens, as Bedrock reports them (Titan in its body, else its header). */
const resultTokens = (plan: EmbeddingPlan, r: InvokeResult): number | undefined =>
  (plan.family.startsWith('titan') && isObject(r.body) ? tokens(r.body.inputTextTokenCount) : undefined) ?? tokens(r.inputTokenCount);

/** The input tokens of the calls that succeeded (the others are absent): what AWS billed. */
export const embeddingTokensOf = (plan: EmbeddingPlan, results: readonly (InvokeResult | undefined)[]): number =>
  results.reduce((n: number, r) => n + (r ? (resultTokens(plan, r) ?? 0) : 0), 0);

export function fromEmbeddingResults(
  plan: EmbeddingPlan,
  results: readonly InvokeResult[],
  model: string,
): { body: EmbeddingList; usage: TokenUsage | undefined } {
  const vectors: number[][] = [];
  let input = 0;
  let counted = true;
  results.forEach((r, i) => {
    const got = plan.family.startsWith('titan') ? titanVector(r.body) : cohereVectors(r.body);
    const texts = plan.calls[i]?.texts;
    const expected = Array.isArray(texts) ? texts.length : 1;
    // Answered, and billed by AWS: charged (what it reported, else counted), never $0.
    if (!got || got.length !== expected) {
      const error = new UpstreamFailedError(
        `the upstream for \`${model}\` answered ${got?.length ?? 'no'} vectors for ${expected} texts`,
        true,
      );
      const spent = embeddingTokensOf(plan, results);
      throw spent > 0 ? withSpentUsage(error, { ...ZERO_USAGE, inputTokens: spent }) : error;
    }
    vectors.push(...got);
    const n = resultTokens(plan, r);
    if (n === undefined) counted = false;
    else input += n;
  });
  const usage = counted ? { inputTokens: input, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 } : undefined;
  return {
    body: {
      object: 'list',
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: plan.encoding === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      })),
      model,
      ...(usage ? { usage: { prompt_tokens: input, total_tokens: input } } : {}),
    },
    usage,
  };
}

const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

function titanVector(body: unknown): number[][] | undefined {
  return isObject(body) && isVector(body.embedding) ? [body.embedding] : undefined;
}

/** Cohere answers `embeddings` as a list of vectors, or by type (`{float: [...]}`) when types were asked for. */
function cohereVectors(body: unknown): number[][] | undefined {
  if (!isObject(body)) return undefined;
  const e = isObject(body.embeddings) ? body.embeddings.float : body.embeddings;
  return Array.isArray(e) && e.every(isVector) ? e : undefined;
}
