import { describe, expect, it } from 'vitest';
import { UpstreamFailedError } from '../../../lib/errors.js';
import { dataEvent, frame, SseFramer } from '../../../lib/llm/sse.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('SseFramer', () => {
  it('emits an event as soon as its blank line arrives, not before', () => {
    const f = new SseFramer('m');
    expect(f.push(bytes('data: {"a":1}\n'))).toEqual([]);
    expect(f.push(bytes('\ndata: {"b"'))).toEqual([{ raw: 'data: {"a":1}', data: '{"a":1}' }]);
    expect(f.push(bytes(':2}\n\n'))).toEqual([{ raw: 'data: {"b":2}', data: '{"b":2}' }]);
  });

  it('emits several events from one chunk, in order', () => {
    const events = new SseFramer('m').push(bytes('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n'));
    expect(events.map((e) => e.data)).toEqual(['1', '2', '[DONE]']);
  });

  it('normalises CRLF, even when split between chunks', () => {
    const f = new SseFramer('m');
    expect(f.push(bytes('data: x\r\n\r'))).toEqual([]);
    expect(f.push(bytes('\ndata: y\r\n\r\n'))).toEqual([
      { raw: 'data: x', data: 'x' },
      { raw: 'data: y', data: 'y' },
    ]);
  });

  it('keeps `event:` lines and joins multi-line data', () => {
    const [e] = new SseFramer('m').push(bytes('event: response.completed\ndata: {"a":\ndata: 1}\n\n'));
    expect(e).toEqual({ raw: 'event: response.completed\ndata: {"a":\ndata: 1}', data: '{"a":\n1}' });
  });

  it('accepts `data:` without the space, and events without data', () => {
    const events = new SseFramer('m').push(bytes('data:{"x":1}\n\n: keep-alive comment\n\n'));
    expect(events).toEqual([
      { raw: 'data:{"x":1}', data: '{"x":1}' },
      { raw: ': keep-alive comment', data: undefined },
    ]);
  });

  it('does not split a multi-byte character cut between chunks', () => {
    const all = bytes('data: "héllo ✓"\n\n');
    const f = new SseFramer('m');
    const cut = all.indexOf(0xe2) + 1; // inside the 3-byte check mark
    expect(f.push(all.slice(0, cut))).toEqual([]);
    expect(f.push(all.slice(cut))).toEqual([{ raw: 'data: "héllo ✓"', data: '"héllo ✓"' }]);
  });

  it('emits a last event that ends without its blank line when the stream ends', () => {
    const f = new SseFramer('m');
    expect(f.push(bytes('data: 1\n\ndata: last\n'))).toHaveLength(1);
    expect(f.end()).toEqual([{ raw: 'data: last', data: 'last' }]);
    expect(f.end()).toEqual([]);
  });

  it('frames events the way OpenAI clients read them', () => {
    expect(frame('data: {"a":1}')).toBe('data: {"a":1}\n\n');
    expect(dataEvent({ error: { code: 'x' } })).toBe('data: {"error":{"code":"x"}}\n\n');
  });
  it('frames the same events however the bytes are cut into chunks', () => {
    const wire = 'event: a\r\ndata: 1\r\n\r\ndata: 2\n\n\ndata: "ü✓"\rdata: 3\r\r: c\n\ndata: last';
    const all = bytes(wire);
    const whole = new SseFramer('m');
    const expected = [...whole.push(all), ...whole.end()];
    expect(expected.map((e) => e.data)).toEqual(['1', '2', '"ü✓"\n3', undefined, 'last']);
    for (let size = 1; size <= all.length; size++) {
      const f = new SseFramer('m');
      const got = [];
      for (let i = 0; i < all.length; i += size) got.push(...f.push(all.slice(i, i + size)));
      got.push(...f.end());
      expect(got, `chunks of ${size}`).toEqual(expected);
    }
  });

  it('an event longer than the cap is the upstream failing, answered (charged), however it arrives', () => {
    const f = new SseFramer('m', 10);
    expect(f.push(bytes('data: 123'))).toEqual([]);
    expect(f.push(bytes('4\n\ndata: 5'))).toHaveLength(1); // 10 characters: at the cap, framed
    const over = (() => {
      try {
        f.push(bytes('6789012'));
      } catch (e) {
        return e;
      }
    })();
    expect(over).toBeInstanceOf(UpstreamFailedError);
    expect(over).toMatchObject({ status: 502, answered: true, message: expect.stringContaining('`m` sent a stream event over') });
    // In one chunk too.
    expect(() => new SseFramer('m', 10).push(bytes('data: 1234567\n\ndata: 12345678901'))).toThrow(UpstreamFailedError);
  });
});
