/**
 * Server-sent events, framed incrementally: bytes go in as the upstream sends them, complete
 * events come out as soon as their blank line arrives (nothing waits for the end of the answer).
 * Each event is re-emitted exactly as received (`event:`/`data:` lines kept, line ends
 * normalised to LF) and terminated by one blank line, as OpenAI clients expect.
 */

export interface SseEvent {
  /** The event's lines, without the terminating blank line. */
  raw: string;
  /** Its `data:` lines joined by LF, or undefined when it has none. */
  data: string | undefined;
}

export class SseFramer {
  private readonly decoder = new TextDecoder();
  private buffer = '';

  /** The events completed by this chunk. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.take(this.decoder.decode(chunk, { stream: true }), false);
  }

  /** What is left when the upstream ends: a last event without its blank line still counts. */
  end(): SseEvent[] {
    return this.take(this.decoder.decode(), true);
  }

  private take(text: string, final: boolean): SseEvent[] {
    this.buffer += text;
    // A CR at the very end may be the first half of a CRLF split across chunks.
    const held = !final && this.buffer.endsWith('\r') ? '\r' : '';
    let ready = (held ? this.buffer.slice(0, -1) : this.buffer).replace(/\r\n?/g, '\n');
    const events: SseEvent[] = [];
    for (let at = ready.indexOf('\n\n'); at !== -1; at = ready.indexOf('\n\n')) {
      const block = ready.slice(0, at);
      ready = ready.slice(at + 2);
      if (block.length > 0) events.push(parseEvent(block));
    }
    if (final && ready.trim().length > 0) {
      events.push(parseEvent(ready.replace(/\n+$/, '')));
      ready = '';
    }
    this.buffer = ready + held;
    return events;
  }
}

function parseEvent(block: string): SseEvent {
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return { raw: block, data: data.length > 0 ? data.join('\n') : undefined };
}

/** One event on the wire. */
export const frame = (raw: string): string => `${raw}\n\n`;

/** A `data:` event carrying a JSON value (the error event of a stream that broke). */
export const dataEvent = (value: unknown): string => frame(`data: ${JSON.stringify(value)}`);
