import { describe, expect, it } from 'vitest';
import { dataEvent, frame, SseFramer } from '../../../lib/llm/sse.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('SseFramer', () => {
  it('emits an event as soon as its blank line arrives, not before', () => {
    const f = new SseFramer();
    expect(f.push(bytes('data: {"a":1}\n'))).toEqual([]);
    expect(f.push(bytes('\ndata: {"b"'))).toEqual([{ raw: 'data: {"a":1}', data: '{"a":1}' }]);
    expect(f.push(bytes(':2}\n\n'))).toEqual([{ raw: 'data: {"b":2}', data: '{"b":2}' }]);
  });

  it('emits several events from one chunk, in order', () => {
    const events = new SseFramer().push(bytes('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n'));
    expect(events.map((e) => e.data)).toEqual(['1', '2', '[DONE]']);
  });

  it('normalises CRLF, even when split between chunks', () => {
    const f = new SseFramer();
    expect(f.push(bytes('data: x\r\n\r'))).toEqual([]);
    expect(f.push(bytes('\ndata: y\r\n\r\n'))).toEqual([
      { raw: 'data: x', data: 'x' },
      { raw: 'data: y', data: 'y' },
    ]);
  });

  it('keeps `event:` lines and joins multi-line data', () => {
    const [e] = new SseFramer().push(bytes('event: response.completed\ndata: {"a":\ndata: 1}\n\n'));
    expect(e).toEqual({ raw: 'event: response.completed\ndata: {"a":\ndata: 1}', data: '{"a":\n1}' });
  });

  it('accepts `data:` without the space, and events without data', () => {
    const events = new SseFramer().push(bytes('data:{"x":1}\n\n: keep-alive comment\n\n'));
    expect(events).toEqual([
      { raw: 'data:{"x":1}', data: '{"x":1}' },
      { raw: ': keep-alive comment', data: undefined },
    ]);
  });

  it('does not split a multi-byte character cut between chunks', () => {
    const all = bytes('data: "héllo ✓"\n\n');
    const f = new SseFramer();
    const cut = all.indexOf(0xe2) + 1; // inside the 3-byte check mark
    expect(f.push(all.slice(0, cut))).toEqual([]);
    expect(f.push(all.slice(cut))).toEqual([{ raw: 'data: "héllo ✓"', data: '"héllo ✓"' }]);
  });

  it('emits a last event that ends without its blank line when the stream ends', () => {
    const f = new SseFramer();
    expect(f.push(bytes('data: 1\n\ndata: last\n'))).toHaveLength(1);
    expect(f.end()).toEqual([{ raw: 'data: last', data: 'last' }]);
    expect(f.end()).toEqual([]);
  });

  it('frames events the way OpenAI clients read them', () => {
    expect(frame('data: {"a":1}')).toBe('data: {"a":1}\n\n');
    expect(dataEvent({ error: { code: 'x' } })).toBe('data: {"error":{"code":"x"}}\n\n');
  });
});
