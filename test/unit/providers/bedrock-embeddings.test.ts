import { describe, expect, it } from 'vitest';
import { InvalidRequestError, UpstreamFailedError } from '../../../lib/errors.js';
import { embeddingFamily, fromEmbeddingResults, toEmbeddingCalls } from '../../../lib/providers/bedrock/embeddings.js';
import { spentUsageOf } from '../../../lib/providers/usage.js';

const TITAN_V2 = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

describe('embedding families by model id, inference profile or ARN', () => {
  it.each([
    ['amazon.titan-embed-text-v2:0', 'titan-v2'],
    ['arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0', 'titan-v2'],
    ['amazon.titan-embed-text-v1', 'titan-v1'],
    ['amazon.titan-embed-g1-text-02', 'titan-v1'],
    ['cohere.embed-english-v3', 'cohere-v3'],
    ['cohere.embed-multilingual-v3', 'cohere-v3'],
    ['us.cohere.embed-v4:0', 'cohere-v4'],
    ['anthropic.claude-3-haiku-20240307-v1:0', undefined],
    ['amazon.titan-embed-image-v1', undefined],
  ])('%s is %s', (id, family) => {
    expect(embeddingFamily(id)).toBe(family);
  });
});

describe('OpenAI embeddings request -> InvokeModel bodies', () => {
  it('Titan v2: one call per text, dimensions passed, vectors normalized', () => {
    expect(toEmbeddingCalls({ model: 'x', input: ['a', 'b'], dimensions: 256 }, TITAN_V2)).toEqual({
      family: 'titan-v2',
      encoding: 'float',
      calls: [
        { inputText: 'a', dimensions: 256, normalize: true },
        { inputText: 'b', dimensions: 256, normalize: true },
      ],
    });
  });

  it('Titan v1: a string input is one call with inputText only', () => {
    expect(toEmbeddingCalls({ input: 'hello' }, 'amazon.titan-embed-text-v1').calls).toEqual([{ inputText: 'hello' }]);
  });

  it('Cohere: texts batched by 96, search_document unless input_type says otherwise, float vectors asked', () => {
    const input = Array.from({ length: 100 }, (_, i) => `t${i}`);
    const plan = toEmbeddingCalls({ input, input_type: 'search_query', encoding_format: 'base64' }, COHERE);
    expect(plan.encoding).toBe('base64');
    expect(plan.calls).toEqual([
      { texts: input.slice(0, 96), input_type: 'search_query', embedding_types: ['float'] },
      { texts: input.slice(96), input_type: 'search_query', embedding_types: ['float'] },
    ]);
    expect(toEmbeddingCalls({ input: 'x' }, COHERE).calls[0]).toMatchObject({ input_type: 'search_document' });
  });

  it('Cohere v4 takes output_dimension', () => {
    expect(toEmbeddingCalls({ input: 'x', dimensions: 1024 }, 'cohere.embed-v4:0').calls[0]).toMatchObject({ output_dimension: 1024 });
  });

  it.each([
    [{ input: [] }, TITAN_V2, 'input'],
    [{ input: [1, 2, 3] }, TITAN_V2, 'input'],
    [{ input: [[1, 2]] }, COHERE, 'input'],
    [{ input: ['ok', ''] }, TITAN_V2, 'input[1]'],
    [{ input: ['ok', 7] }, COHERE, 'input'],
    [{ input: 'x', dimensions: 300 }, TITAN_V2, 'dimensions'],
    [{ input: 'x', dimensions: 256 }, 'amazon.titan-embed-text-v1', 'dimensions'],
    [{ input: 'x', dimensions: 256 }, COHERE, 'dimensions'],
    [{ input: 'x', encoding_format: 'int8' }, TITAN_V2, 'encoding_format'],
    [{ input: 'x', input_type: 'search_query' }, TITAN_V2, 'input_type'],
    [{ input: 'x', input_type: 'poetry' }, COHERE, 'input_type'],
    [{ input: 'x', truncate: 'END' }, COHERE, 'truncate'],
    [{ input: 'x' }, 'anthropic.claude-3-haiku-20240307-v1:0', 'model'],
  ])('%j on %s is a 400 naming %s', (body, model, param) => {
    let error: unknown;
    try {
      toEmbeddingCalls(body as Record<string, unknown>, model);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
  });
});

describe('InvokeModel answers -> OpenAI embeddings answer', () => {
  it('Titan: vectors in order, usage summed from inputTextTokenCount', () => {
    const plan = toEmbeddingCalls({ input: ['a b', 'c'] }, TITAN_V2);
    const { body, usage } = fromEmbeddingResults(
      plan,
      [{ body: { embedding: [0.1, 0.2], inputTextTokenCount: 2 } }, { body: { embedding: [0.3, 0.4], inputTextTokenCount: 1 } }],
      'titan',
    );
    expect(body).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.1, 0.2] },
        { object: 'embedding', index: 1, embedding: [0.3, 0.4] },
      ],
      model: 'titan',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    expect(usage).toEqual({ inputTokens: 3, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('Cohere: vectors by type or as a list, usage from Bedrock’s token header', () => {
    const plan = toEmbeddingCalls({ input: ['a', 'b', 'c'] }, COHERE);
    const byType = fromEmbeddingResults(
      plan,
      [{ body: { embeddings: { float: [[1], [2], [3]] }, response_type: 'embeddings_by_type' }, inputTokenCount: 5 }],
      'cohere',
    );
    expect(byType.body.data.map((d) => d.embedding)).toEqual([[1], [2], [3]]);
    expect(byType.usage?.inputTokens).toBe(5);
    const asList = fromEmbeddingResults(
      plan,
      [{ body: { embeddings: [[1], [2], [3]], response_type: 'embeddings_floats' }, inputTokenCount: 4 }],
      'cohere',
    );
    expect(asList.body.data.map((d) => d.index)).toEqual([0, 1, 2]);
  });

  it('an answer with the wrong number of vectors is an answered failure carrying the tokens Bedrock billed (found by review: $0)', () => {
    const plan = toEmbeddingCalls({ input: ['a', 'b', 'c'] }, COHERE);
    let error: unknown;
    try {
      fromEmbeddingResults(plan, [{ body: { embeddings: [[1], [2]], response_type: 'embeddings_floats' }, inputTokenCount: 4 }], 'cohere');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UpstreamFailedError);
    expect((error as UpstreamFailedError).answered).toBe(true);
    expect(spentUsageOf(error)).toMatchObject({ inputTokens: 4, outputTokens: 0 });
  });

  it('base64 encoding packs float32 little-endian, as OpenAI does', () => {
    const plan = toEmbeddingCalls({ input: 'a', encoding_format: 'base64' }, TITAN_V2);
    const { body } = fromEmbeddingResults(plan, [{ body: { embedding: [0.5, -1], inputTextTokenCount: 1 } }], 'titan');
    const bytes = Buffer.from(body.data[0]?.embedding as string, 'base64');
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4)]).toEqual([0.5, -1]);
  });

  it('a missing token count leaves the usage unknown (the caller charges its estimate), never zero', () => {
    const plan = toEmbeddingCalls({ input: ['a', 'b'] }, COHERE);
    const { body, usage } = fromEmbeddingResults(plan, [{ body: { embeddings: [[1], [2]] } }], 'cohere');
    expect(usage).toBeUndefined();
    expect(body).not.toHaveProperty('usage');
  });

  it('an answer with the wrong number of vectors is a 502', () => {
    const plan = toEmbeddingCalls({ input: ['a', 'b'] }, COHERE);
    expect(() => fromEmbeddingResults(plan, [{ body: { embeddings: [[1]] }, inputTokenCount: 1 }], 'cohere')).toThrow(UpstreamFailedError);
    expect(() => fromEmbeddingResults(toEmbeddingCalls({ input: 'a' }, TITAN_V2), [{ body: { nothing: true } }], 'titan')).toThrow(
      UpstreamFailedError,
    );
  });
});
