import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { countUsage, imageOutputTokens, ReceivedText, sentText } from '../../../lib/llm/count.js';

const json = (value: Record<string, unknown>) => ({ body: { kind: 'json' as const, value } });

describe('what was sent', () => {
  it('is the text fields of a JSON body (messages, parts, prompt, input, instructions), not its settings', () => {
    const text = sentText(
      json({
        model: 'gpt-4o-mini',
        user: 'eu-1',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
        ],
        instructions: 'answer in French',
        max_tokens: 5,
      }),
    );
    expect(text?.split('\n').sort()).toEqual(['answer in French', 'be brief', 'hello there']);
    expect(sentText(json({ input: ['one', 'two'] }))).toBe('one\ntwo');
  });

  it('is nothing to count for a raw or multipart body: the estimate applies', async () => {
    const raw = { body: { kind: 'raw' as const, bytes: Buffer.from('x'), contentType: 'application/octet-stream' } };
    expect(sentText(raw)).toBeUndefined();
    expect(await countUsage(raw, undefined)).toBeUndefined();
  });
});

describe('what was received', () => {
  it('a JSON answer: its message text, tool arguments and refusal', () => {
    const r = new ReceivedText();
    r.add({
      id: 'x',
      model: 'm',
      choices: [{ message: { role: 'assistant', content: 'Hi.', tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] } }],
    });
    expect(r.text).toBe('Hi.{"a":1}');
  });

  it('a stream: each delta once, not the events that repeat the whole text', () => {
    const r = new ReceivedText();
    r.addEvent({ choices: [{ delta: { role: 'assistant', content: 'Hel' } }] });
    r.addEvent({ choices: [{ delta: { content: 'lo' } }] });
    r.addEvent({ type: 'response.output_text.delta', delta: ' world' });
    r.addEvent({ type: 'response.output_text.done', text: 'Hello world' });
    r.addEvent({ type: 'response.completed', response: { output: [{ content: [{ text: 'Hello world' }] }] } });
    expect(r.text).toBe('Hello world');
  });
});

describe('thinking and reasoning are output too (found by review: a cut thinking stream was charged 1 token)', () => {
  it("Anthropic's thinking blocks and thinking_delta events, beside the answer; a signature is not text", () => {
    const whole = new ReceivedText();
    whole.add({
      type: 'message',
      content: [
        { type: 'thinking', thinking: 'Let me think.', signature: 'sig' },
        { type: 'text', text: 'Done.' },
      ],
    });
    expect(whole.text).toBe('Let me think.Done.');
    const stream = new ReceivedText();
    stream.addEvent({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } });
    stream.addEvent({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Step one, ' } });
    stream.addEvent({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'step two.' } });
    stream.addEvent({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } });
    stream.addEvent({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Answer.' } });
    expect(stream.text).toBe('Step one, step two.Answer.');
  });

  it('a `reasoning` or `reasoning_content` delta of a chat stream (OpenRouter, vLLM, LiteLLM upstreams), and in a whole message', () => {
    const stream = new ReceivedText();
    stream.addEvent({ choices: [{ delta: { reasoning: 'Hmm, ' } }] });
    stream.addEvent({ choices: [{ delta: { reasoning_content: 'so. ' } }] });
    stream.addEvent({ choices: [{ delta: { content: 'Yes.' } }] });
    expect(stream.text).toBe('Hmm, so. Yes.');
    const whole = new ReceivedText();
    whole.add({ choices: [{ message: { content: 'Yes.', reasoning: 'Because.' } }] });
    expect(whole.text).toBe('Yes.Because.');
  });

  it("the Assistants API's message text and deltas (`text.value`)", () => {
    const stream = new ReceivedText();
    stream.addEvent({
      id: 'msg_1',
      object: 'thread.message.delta',
      delta: { content: [{ index: 0, type: 'text', text: { value: 'Run ' } }] },
    });
    stream.addEvent({
      id: 'msg_1',
      object: 'thread.message.delta',
      delta: { content: [{ index: 0, type: 'text', text: { value: 'output.' } }] },
    });
    expect(stream.text).toBe('Run output.');
  });

  it("a request's reasoning settings are not text it sent", () => {
    expect(sentText(json({ input: 'hi', reasoning: { effort: 'high', summary: 'auto' } }))).toBe('hi');
  });
});

describe('the count', () => {
  it('is o200k_base tokens of each side', async () => {
    const r = new ReceivedText();
    r.add({ choices: [{ message: { content: 'The answer is forty-two.' } }] });
    const usage = await countUsage(json({ messages: [{ role: 'user', content: 'What is the answer to everything?' }] }), r);
    expect(usage).toEqual({
      inputTokens: countTokens('What is the answer to everything?'),
      outputTokens: countTokens('The answer is forty-two.'),
    });
    expect(usage?.inputTokens).toBeGreaterThan(0);
  });

  it('of nothing at all is no count (the estimate applies), never a usage of 0', async () => {
    expect(await countUsage(json({ messages: [] }), new ReceivedText())).toBeUndefined();
  });
});

describe('web searches an answer shows started (a stream cut before its usage still pays for them)', () => {
  const search = (i: number) => ({ type: 'server_tool_use', id: `srvtoolu_${i}`, name: 'web_search', input: { query: 'q' } });

  it("Anthropic: server_tool_use blocks named web_search, in an answer and as stream events (start only); other tools aren't", () => {
    const whole = new ReceivedText();
    whole.add({
      type: 'message',
      content: [search(1), search(2), { type: 'server_tool_use', name: 'code_execution' }, { type: 'text', text: 'x' }],
    });
    expect(whole.searches).toBe(2);
    const stream = new ReceivedText();
    for (const i of [0, 1]) {
      stream.addEvent({ type: 'content_block_start', index: i, content_block: search(i) });
      stream.addEvent({ type: 'content_block_stop', index: i });
    }
    expect(stream.searches).toBe(2);
  });

  it('the Responses API: web_search_call items, in a response and as output_item.added (its .done repeats it)', () => {
    const whole = new ReceivedText();
    whole.add({
      object: 'response',
      output: [
        { type: 'web_search_call', id: 'ws_1' },
        { type: 'message', content: [] },
      ],
    });
    expect(whole.searches).toBe(1);
    const stream = new ReceivedText();
    stream.addEvent({ type: 'response.output_item.added', item: { type: 'web_search_call', id: 'ws_1' } });
    stream.addEvent({ type: 'response.output_item.done', item: { type: 'web_search_call', id: 'ws_1' } });
    expect(stream.searches).toBe(1);
  });

  it('countUsage carries them', async () => {
    const received = new ReceivedText();
    received.addEvent({ type: 'content_block_start', index: 0, content_block: search(0) });
    expect(await countUsage(json({ messages: [{ role: 'user', content: 'hi' }] }), received)).toMatchObject({ webSearches: 1 });
  });
});

describe('file searches an answer shows started (the Responses API: a stream cut before its usage still pays for them)', () => {
  it('file_search_call items, in a response and as output_item.added (its .done repeats it); not web searches', () => {
    const whole = new ReceivedText();
    whole.add({
      object: 'response',
      output: [
        { type: 'file_search_call', id: 'fs_1' },
        { type: 'file_search_call', id: 'fs_2' },
        { type: 'web_search_call', id: 'ws_1' },
        { type: 'message', content: [] },
      ],
    });
    expect([whole.fileSearches, whole.searches]).toEqual([2, 1]);
    const stream = new ReceivedText();
    for (const id of ['fs_1', 'fs_2']) {
      stream.addEvent({ type: 'response.output_item.added', item: { type: 'file_search_call', id } });
      stream.addEvent({ type: 'response.file_search_call.searching', item_id: id });
      stream.addEvent({ type: 'response.output_item.done', item: { type: 'file_search_call', id } });
    }
    expect([stream.fileSearches, stream.searches]).toEqual([2, 0]);
  });

  it('countUsage carries them', async () => {
    const received = new ReceivedText();
    received.addEvent({ type: 'response.output_item.added', item: { type: 'file_search_call', id: 'fs_1' } });
    expect(await countUsage(json({ input: 'hi' }), received)).toMatchObject({ fileSearches: 1 });
    expect(await countUsage(json({ input: 'hi' }), new ReceivedText())).not.toHaveProperty('fileSearches');
  });
});

describe('images the image generation tool made (found by review: a stream cut before its usage was charged none)', () => {
  const item = (id: string, extra: Record<string, unknown> = {}) => ({
    type: 'image_generation_call',
    id,
    status: 'in_progress',
    ...extra,
  });

  it('one image: its quality and size as the item says, else as its tool asked, else the dearest it can be', () => {
    expect(imageOutputTokens({ quality: 'low', size: '1024x1024' })).toBe(272);
    expect(imageOutputTokens({}, { quality: 'medium', size: '1536x1024' })).toBe(1568);
    expect(imageOutputTokens({ size: '1024x1024' }, { quality: 'high', size: '1536x1024' })).toBe(4160);
    // `auto`, absent, or a size no table has: the dearest.
    expect(imageOutputTokens({ quality: 'auto', size: 'auto' })).toBe(6240);
    expect(imageOutputTokens({ quality: 'low' })).toBe(408);
    expect(imageOutputTokens({ size: '4096x4096', quality: 'medium' })).toBe(1584);
  });

  it('a stream: each item once, as its done event shows it; each partial image 100 tokens; failed items none', async () => {
    const r = new ReceivedText();
    r.addEvent({ type: 'response.output_item.added', item: item('ig_1') });
    r.addEvent({ type: 'response.image_generation_call.partial_image', item_id: 'ig_1', partial_image_b64: 'cA==' });
    r.addEvent({ type: 'response.output_item.done', item: item('ig_1', { status: 'completed', quality: 'low', size: '1024x1024' }) });
    r.addEvent({ type: 'response.output_item.added', item: item('ig_2', { status: 'failed' }) });
    const counted = await countUsage(json({ input: 'draw', tools: [{ type: 'image_generation' }] }), r);
    expect(counted?.imageGen).toEqual({ inputTokens: 0, outputTokens: 372, imageOutputTokens: 372 });
  });

  it('an image seen only as it started is charged as its tool asked; with several tools, the dearest of them', async () => {
    const r = new ReceivedText();
    r.addEvent({ type: 'response.output_item.added', item: item('ig_1') });
    const one = await countUsage(json({ input: 'draw', tools: [{ type: 'image_generation', quality: 'medium', size: '1024x1024' }] }), r);
    expect(one?.imageGen?.outputTokens).toBe(1056);
    const tools = [
      { type: 'image_generation', quality: 'low', size: '1024x1024' },
      { type: 'image_generation', quality: 'medium', size: '1024x1536' },
    ];
    expect((await countUsage(json({ input: 'draw', tools }), r))?.imageGen?.outputTokens).toBe(1584);
  });

  it('a JSON answer without usage: its image items; none made: no image tokens', async () => {
    const r = new ReceivedText();
    r.add({ object: 'response', output: [item('ig_1', { status: 'completed', quality: 'high', size: '1024x1024', result: 'aW1n' })] });
    expect((await countUsage(json({ input: 'draw' }), r))?.imageGen?.outputTokens).toBe(4160);
    const none = new ReceivedText();
    none.add({ object: 'response', output: [{ type: 'message', content: [{ type: 'output_text', text: 'no' }] }] });
    expect((await countUsage(json({ input: 'draw' }), none))?.imageGen).toBeUndefined();
  });
});

describe('containers the code interpreter ran in (billed as sessions when made for the call)', () => {
  it('are the container_id of its items, in an answer and in a stream’s item events, each once', () => {
    const item = (id: string, container: unknown) => ({ type: 'code_interpreter_call', id, container_id: container, code: 'print(1)' });
    const r = new ReceivedText();
    r.add({ object: 'response', output: [item('ci_1', 'cntr_a'), item('ci_2', 'cntr_a'), item('ci_3', 42), { type: 'message' }] });
    r.addEvent({ type: 'response.output_item.added', item: item('ci_4', 'cntr_b') });
    r.addEvent({ type: 'response.output_item.done', item: item('ci_4', 'cntr_b') });
    expect([...r.containers]).toEqual(['cntr_a', 'cntr_b']);
  });

  it('the response they were shown in: a JSON answer’s id (whatever its `object` says), a stream’s response.id', () => {
    const json = new ReceivedText();
    json.add({ id: 'resp_1', output: [] });
    expect(json.responseId).toBe('resp_1');
    const stream = new ReceivedText();
    stream.addEvent({ type: 'response.created', response: { id: 'resp_2', output: [] } });
    expect(stream.responseId).toBe('resp_2');
  });
});
