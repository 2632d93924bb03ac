/**
 * Bedrock's ConverseStream events to OpenAI chat completion chunks: pure, one event in, the
 * chunks it makes out, in order. Text deltas become `content` deltas; a tool call starts with its
 * id and name at its own `index` (counted among tool calls, as OpenAI does, not among content
 * blocks) and continues with `arguments` deltas; the stop reason becomes the last choice chunk's
 * `finish_reason`; Claude's thinking streams as `reasoning_content` deltas, and each thinking block
 * comes whole in `thinking_blocks` once its signature arrives (redacted ones as they come); the usage (Bedrock's `metadata` event, after the stop) becomes OpenAI's
 * usage-only chunk when the client asked for it (`stream_options.include_usage`), and is kept
 * for metering either way.
 */
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import type { TokenUsage } from '../types.js';
import {
  type AnswerContext,
  type ChatUsage,
  chatUsage,
  type FinishReason,
  finishReasonOf,
  type ThinkingBlock,
  usageOfConverse,
} from './translate.js';

export interface ChunkDelta {
  role?: 'assistant';
  content?: string;
  reasoning_content?: string;
  /** A thinking block whole, once its signature came (LiteLLM's field): sent back, Claude goes on after a tool call. */
  thinking_blocks?: ThinkingBlock[];
  tool_calls?: { index: number; id?: string; type?: 'function'; function: { name?: string; arguments: string } }[];
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: { index: 0; delta: ChunkDelta; logprobs: null; finish_reason: FinishReason | null }[];
  usage?: ChatUsage | null;
}

/** A stream event Bedrock sends as an error (its exception members), by member name. */
export interface StreamFailure {
  name: string;
  message: string | undefined;
}

const EXCEPTIONS = [
  'internalServerException',
  'modelStreamErrorException',
  'validationException',
  'throttlingException',
  'serviceUnavailableException',
] as const;
/** The SDK's exception class names, for the error mapping (lib/providers/bedrock/errors). */
const EXCEPTION_NAMES: Readonly<Record<(typeof EXCEPTIONS)[number], string>> = {
  internalServerException: 'InternalServerException',
  modelStreamErrorException: 'ModelStreamErrorException',
  validationException: 'ValidationException',
  throttlingException: 'ThrottlingException',
  serviceUnavailableException: 'ServiceUnavailableException',
};

/** The exception an event carries, if it is one. */
export function streamFailureOf(event: ConverseStreamOutput): StreamFailure | undefined {
  for (const member of EXCEPTIONS) {
    const e = event[member];
    if (e) return { name: EXCEPTION_NAMES[member], message: e.message };
  }
  return undefined;
}

export class ConverseChunker {
  private readonly toolIndex = new Map<number, number>();
  /** The thinking text of each reasoning block so far, by content block index (its signature ends it). */
  private readonly thinking = new Map<number, string>();
  private roleSent = false;
  private usageSeen: TokenUsage | undefined;

  constructor(
    private readonly ctx: AnswerContext,
    /** Whether the client asked for the usage chunk (`stream_options.include_usage`). */
    private readonly includeUsage: boolean,
  ) {}

  /** The usage Bedrock reported, once its metadata event arrived. */
  get usage(): TokenUsage | undefined {
    return this.usageSeen;
  }

  /** The chunks for one event (none for events with nothing to say). Exception events are the caller's: see streamFailureOf. */
  push(event: ConverseStreamOutput): ChatChunk[] {
    if (event.messageStart) return [this.opening()];
    const out: ChatChunk[] = this.roleSent ? [] : [this.opening()];
    if (event.contentBlockStart) {
      const { start, contentBlockIndex = 0 } = event.contentBlockStart;
      if (start?.toolUse) {
        const index = this.toolIndex.size;
        this.toolIndex.set(contentBlockIndex, index);
        out.push(
          this.chunk({
            tool_calls: [
              { index, id: start.toolUse.toolUseId ?? '', type: 'function', function: { name: start.toolUse.name ?? '', arguments: '' } },
            ],
          }),
        );
      }
    } else if (event.contentBlockDelta) {
      const { delta, contentBlockIndex = 0 } = event.contentBlockDelta;
      if (typeof delta?.text === 'string') out.push(this.chunk({ content: delta.text }));
      else if (delta?.toolUse) {
        const index = this.toolIndex.get(contentBlockIndex);
        // A tool delta for a block that never started cannot be placed; Bedrock always starts them.
        if (index !== undefined) out.push(this.chunk({ tool_calls: [{ index, function: { arguments: delta.toolUse.input ?? '' } }] }));
      } else if (delta?.reasoningContent) {
        const r = delta.reasoningContent;
        if (typeof r.text === 'string') {
          this.thinking.set(contentBlockIndex, (this.thinking.get(contentBlockIndex) ?? '') + r.text);
          out.push(this.chunk({ reasoning_content: r.text }));
        } else if (typeof r.signature === 'string') {
          const thinking = this.thinking.get(contentBlockIndex) ?? '';
          this.thinking.delete(contentBlockIndex);
          out.push(this.chunk({ thinking_blocks: [{ type: 'thinking', thinking, signature: r.signature }] }));
        } else if (r.redactedContent)
          out.push(
            this.chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: Buffer.from(r.redactedContent).toString('base64') }] }),
          );
      }
    } else if (event.messageStop) {
      out.push(this.chunk({}, finishReasonOf(event.messageStop.stopReason)));
    } else if (event.metadata) {
      this.usageSeen = usageOfConverse(event.metadata.usage);
      if (this.includeUsage && this.usageSeen) out.push({ ...this.base(), choices: [], usage: chatUsage(this.usageSeen) });
    }
    return out;
  }

  private opening(): ChatChunk {
    this.roleSent = true;
    return this.chunk({ role: 'assistant', content: '' });
  }

  private base() {
    return {
      id: this.ctx.id,
      object: 'chat.completion.chunk' as const,
      created: this.ctx.created,
      model: this.ctx.model,
      system_fingerprint: null,
    };
  }

  private chunk(delta: ChunkDelta, finish: FinishReason | null = null): ChatChunk {
    return {
      ...this.base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }
}
