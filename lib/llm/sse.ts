/**
 * Server-sent events, framed incrementally: bytes go in as the upstream sends them, complete
 * events come out as soon as their blank line arrives (nothing waits for the end of the answer).
 * Each event is re-emitted exactly as received (`event:`/`data:` lines kept, line ends
 * normalised to LF) and terminated by one blank line, as OpenAI clients expect.
 */
import { MAX_ANSWER_BYTES, oversizedAnswer } from './upstream.js';

export interface SseEvent {
  /** The event's lines, without the terminating blank line. */
  raw: string;
  /** Its `data:` lines joined by LF, or undefined when it has none. */
  data: string | undefined;
}

export class SseFramer {
  private readonly decoder = new TextDecoder();
  /** Text of the event under way (line ends normalised, no blank line in it), in the pieces it came in. */
  private pending: string[] = [];
  private pendingChars = 0;
  /** The last chunk ended with a CR: maybe the first half of a CRLF split across chunks. */
  private heldCr = false;

  /** `model` names the upstream in the error when one event runs past `maxEventChars` (MAX_ANSWER_BYTES). */
  constructor(
    private readonly model: string,
    private readonly maxEventChars = MAX_ANSWER_BYTES,
  ) {}

  /** The events completed by this chunk. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.take(this.decoder.decode(chunk, { stream: true }), false);
  }

  /** What is left when the upstream ends: a last event without its blank line still counts. */
  end(): SseEvent[] {
    return this.take(this.decoder.decode(), true);
  }

  /** Each character is looked at a bounded number of times, however long an event grows. */
  private take(text: string, final: boolean): SseEvent[] {
    let t = (this.heldCr ? '\r' : '') + text;
    this.heldCr = !final && t.endsWith('\r');
    t = (this.heldCr ? t.slice(0, -1) : t).replace(/\r\n?/g, '\n');
    const last = this.pending.at(-1) ?? '';
    const spans = last.endsWith('\n') && t.startsWith('\n');
    if (!final && !spans && !t.includes('\n\n')) {
      if (t) this.pending.push(t);
      this.pendingChars += t.length;
      // An event never ended (no blank line) would grow for as long as the upstream talks.
      if (this.pendingChars > this.maxEventChars) throw oversizedAnswer(this.model, 'a stream event');
      return [];
    }
    let ready = this.pending.join('') + t;
    const events: SseEvent[] = [];
    let from = 0;
    for (let at = ready.indexOf('\n\n'); at !== -1; at = ready.indexOf('\n\n', from)) {
      const block = ready.slice(from, at);
      from = at + 2;
      if (block.length > 0) events.push(parseEvent(block));
    }
    ready = ready.slice(from);
    if (final && ready.trim().length > 0) {
      events.push(parseEvent(ready.replace(/\n+$/, '')));
      ready = '';
    }
    this.pending = ready ? [ready] : [];
    this.pendingChars = ready.length;
    if (this.pendingChars > this.maxEventChars) throw oversizedAnswer(this.model, 'a stream event');
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

/** Bytes as they come, as complete events as soon as each ends (the last one at the end even without its blank line). */
export async function* framedEvents(chunks: AsyncIterable<Uint8Array>, model: string): AsyncGenerator<SseEvent> {
  const framer = new SseFramer(model);
  for await (const chunk of chunks) yield* framer.push(chunk);
  yield* framer.end();
}

/** One event on the wire. */
export const frame = (raw: string): string => `${raw}\n\n`;

/** A `data:` event carrying a JSON value (the error event of a stream that broke). */
export const dataEvent = (value: unknown): string => frame(`data: ${JSON.stringify(value)}`);
