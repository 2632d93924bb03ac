import type { ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { type ChatChunk, ConverseChunker, streamFailureOf } from '../../../lib/providers/bedrock/stream.js';
import { fromConverseResponse } from '../../../lib/providers/bedrock/translate.js';

const ctx = { id: 'chatcmpl-s1', created: 1_700_000_000, model: 'claude' };
const ev = (e: Record<string, unknown>) => e as unknown as ConverseStreamOutput;
const start = ev({ messageStart: { role: 'assistant' } });
const text = (t: string, i = 0) => ev({ contentBlockDelta: { contentBlockIndex: i, delta: { text: t } } });
const toolStart = (i: number, id: string, name: string) =>
  ev({ contentBlockStart: { contentBlockIndex: i, start: { toolUse: { toolUseId: id, name } } } });
const toolDelta = (i: number, input: string) => ev({ contentBlockDelta: { contentBlockIndex: i, delta: { toolUse: { input } } } });
const stop = (i: number) => ev({ contentBlockStop: { contentBlockIndex: i } });
const messageStop = (reason: string) => ev({ messageStop: { stopReason: reason } });
const metadata = (usage: Record<string, number>) => ev({ metadata: { usage, metrics: { latencyMs: 5 } } });

const run = (events: ConverseStreamOutput[], includeUsage = true) => {
  const chunker = new ConverseChunker(ctx, includeUsage);
  const chunks = events.flatMap((e) => chunker.push(e));
  return { chunks, usage: chunker.usage };
};
const deltas = (chunks: ChatChunk[]) => chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0]?.delta);

/** What the official openai client's stream helper would assemble from the chunks. */
function assemble(chunks: ChatChunk[]) {
  let content = '';
  let finish: string | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const c of chunks) {
    const choice = c.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    for (const t of choice.delta.tool_calls ?? []) {
      const call = (calls[t.index] ??= { id: '', name: '', arguments: '' });
      if (t.id) call.id = t.id;
      if (t.function.name) call.name = t.function.name;
      call.arguments += t.function.arguments;
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, calls, finish };
}

describe('ConverseStream events -> OpenAI chunks', () => {
  it('text deltas: the role first, one content chunk per delta, the stop, then the usage chunk', () => {
    const { chunks, usage } = run([
      start,
      text('Hel'),
      text('lo'),
      stop(0),
      messageStop('end_turn'),
      metadata({ inputTokens: 9, outputTokens: 2, totalTokens: 11 }),
    ]);
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hel' }, { content: 'lo' }, {}]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, 'stop', null]);
    expect(chunks.at(-1)).toEqual({
      id: 'chatcmpl-s1',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'claude',
      system_fingerprint: null,
      choices: [],
      usage: {
        prompt_tokens: 9,
        completion_tokens: 2,
        total_tokens: 11,
        prompt_tokens_details: { cached_tokens: 0 },
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
    // Chunks before the last carry `usage: null`, as OpenAI's do when usage was asked for.
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(usage).toEqual({ inputTokens: 9, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('without include_usage no usage chunk goes out, and the usage is still metered', () => {
    const { chunks, usage } = run(
      [
        start,
        text('x'),
        messageStop('end_turn'),
        metadata({ inputTokens: 3, outputTokens: 1, cacheReadInputTokens: 40, cacheWriteInputTokens: 7 }),
      ],
      false,
    );
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(usage).toEqual({ inputTokens: 3, outputTokens: 1, cacheReadTokens: 40, cacheWriteTokens: 7 });
  });

  it('streamed tool calls: id and name first, then argument deltas, each at its index among tool calls', () => {
    const { chunks } = run([
      start,
      text('Let me check.', 0),
      stop(0),
      toolStart(1, 'tu_a', 'get_weather'),
      toolDelta(1, '{"city":'),
      toolDelta(1, '"Paris"}'),
      stop(1),
      toolStart(2, 'tu_b', 'get_time'),
      toolDelta(2, '{}'),
      stop(2),
      messageStop('tool_use'),
      metadata({ inputTokens: 20, outputTokens: 30 }),
    ]);
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Let me check.' },
      { tool_calls: [{ index: 0, id: 'tu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      { tool_calls: [{ index: 1, id: 'tu_b', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
    ]);
    expect(assemble(chunks)).toEqual({
      content: 'Let me check.',
      calls: [
        { id: 'tu_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'tu_b', name: 'get_time', arguments: '{}' },
      ],
      finish: 'tool_calls',
    });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['content_filtered', 'content_filter'],
    ['guardrail_intervened', 'content_filter'],
  ])('stop reason %s ends with finish_reason %s', (reason, finish) => {
    expect(assemble(run([start, text('x'), messageStop(reason)]).chunks).finish).toBe(finish);
  });

  it('reasoning deltas go out as reasoning_content', () => {
    const { chunks } = run([
      start,
      ev({ contentBlockDelta: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hmm' } } } }),
      text('ok', 1),
    ]);
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { reasoning_content: 'hmm' }, { content: 'ok' }]);
  });

  it('each thinking block comes whole in thinking_blocks once its signature arrives; a redacted one as it comes', () => {
    const reasoning = (i: number, r: Record<string, unknown>) =>
      ev({ contentBlockDelta: { contentBlockIndex: i, delta: { reasoningContent: r } } });
    const { chunks } = run([
      start,
      reasoning(0, { text: 'Let me ' }),
      reasoning(0, { text: 'think.' }),
      reasoning(0, { signature: 'sig-0' }),
      reasoning(1, { redactedContent: new Uint8Array(Buffer.from('opaque')) }),
      reasoning(2, { text: 'Again.' }),
      reasoning(2, { signature: 'sig-2' }),
      text('ok', 3),
    ]);
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'Let me ' },
      { reasoning_content: 'think.' },
      { thinking_blocks: [{ type: 'thinking', thinking: 'Let me think.', signature: 'sig-0' }] },
      { thinking_blocks: [{ type: 'redacted_thinking', data: Buffer.from('opaque').toString('base64') }] },
      { reasoning_content: 'Again.' },
      { thinking_blocks: [{ type: 'thinking', thinking: 'Again.', signature: 'sig-2' }] },
      { content: 'ok' },
    ]);
  });

  it('a stream without messageStart still opens with the role', () => {
    expect(deltas(run([text('x')]).chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'x' }]);
  });

  it('assembled, a stream says what the same answer says unstreamed', () => {
    const streamed = assemble(
      run([start, text('Sure: '), stop(0), toolStart(1, 't1', 'search'), toolDelta(1, '{"q":"x"}'), stop(1), messageStop('tool_use')])
        .chunks,
    );
    const whole = fromConverseResponse(
      {
        output: {
          message: {
            role: 'assistant',
            content: [{ text: 'Sure: ' }, { toolUse: { toolUseId: 't1', name: 'search', input: { q: 'x' } } }],
          },
        },
        stopReason: 'tool_use',
        usage: undefined,
      } as unknown as ConverseCommandOutput,
      ctx,
    ).body.choices[0];
    expect(streamed.content).toBe(whole.message.content);
    expect(streamed.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }))).toEqual(
      whole.message.tool_calls,
    );
    expect(streamed.finish).toBe(whole.finish_reason);
  });
});

describe('stream exceptions', () => {
  it.each([
    ['throttlingException', 'ThrottlingException'],
    ['validationException', 'ValidationException'],
    ['modelStreamErrorException', 'ModelStreamErrorException'],
    ['internalServerException', 'InternalServerException'],
    ['serviceUnavailableException', 'ServiceUnavailableException'],
  ])('%s is recognised as %s', (member, name) => {
    expect(streamFailureOf(ev({ [member]: { message: 'boom' } }))).toEqual({ name, message: 'boom' });
  });

  it('ordinary events are not failures', () => {
    for (const e of [start, text('x'), messageStop('end_turn'), metadata({ inputTokens: 1, outputTokens: 1 })])
      expect(streamFailureOf(e)).toBeUndefined();
  });
});
