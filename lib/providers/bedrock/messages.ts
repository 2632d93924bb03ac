/**
 * Anthropic's Messages API (`POST /v1/messages`, what Claude Code and the Anthropic SDKs send)
 * to a Claude model on Bedrock through Converse, and back: pure. Prompt caching survives the
 * trip (`cache_control` becomes a Converse cache point; cache reads and writes come back in the
 * usage), so does extended thinking (`thinking` blocks with their signatures). What Converse
 * cannot express is a 400 naming the field.
 */
import type {
  ContentBlock,
  ConverseCommandInput,
  ConverseCommandOutput,
  ConverseStreamOutput,
  DocumentFormat,
  ImageFormat,
  InferenceConfiguration,
  Message,
  StopReason,
  SystemContentBlock,
  Tool,
  ToolConfiguration,
  ToolResultContentBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { isObject } from '../../domain/json.js';
import type { TokenUsage } from '../types.js';
import {
  hasText,
  invalid,
  type Json,
  reasoningBlockOf,
  sampling,
  type ThinkingBlock,
  thinkingBlockOf,
  unsupported,
  usageOfConverse,
} from './translate.js';

/** Whether a Bedrock model id, inference profile or ARN names an Anthropic Claude model. */
export const isClaudeOnBedrock = (modelId: string): boolean => /(^|[.:/])anthropic\.claude/.test(modelId);

// ---------------------------------------------------------------------------------------------
// Request

const TRANSLATED = new Set([
  'messages',
  'system',
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'tools',
  'tool_choice',
  'thinking',
]);
const IGNORED = new Set(['model', 'stream', 'metadata', 'service_tier']);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const TOOL_USE_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const IMAGE_TYPES: ReadonlyMap<string, ImageFormat> = new Map([
  ['image/png', 'png'],
  ['image/jpeg', 'jpeg'],
  ['image/gif', 'gif'],
  ['image/webp', 'webp'],
]);
const DOCUMENT_TYPES: ReadonlyMap<string, DocumentFormat> = new Map([
  ['application/pdf', 'pdf'],
  ['text/plain', 'txt'],
]);
const CACHE_POINT: { cachePoint: { type: 'default'; ttl?: '5m' | '1h' } } = { cachePoint: { type: 'default' } };

/** The Converse request for an Anthropic Messages request. Throws a 400 naming what it cannot express. */
export function messagesToConverse(body: Record<string, unknown>, modelId: string): ConverseCommandInput {
  for (const [field, value] of Object.entries(body)) {
    if (value === null || value === undefined || TRANSLATED.has(field) || IGNORED.has(field)) continue;
    unsupported(field, 'is not supported for Claude on Bedrock');
  }
  const { messages, toolBlocks } = turns(body.messages);
  const system = systemBlocks(body.system);
  const toolConfig = tools(body.tools, body.tool_choice, toolBlocks);
  const additional: Record<string, Json> = {};
  if (body.top_k !== undefined && body.top_k !== null) {
    if (typeof body.top_k !== 'number' || !Number.isSafeInteger(body.top_k) || body.top_k < 0) invalid('top_k', 'must be an integer >= 0');
    additional.top_k = body.top_k as number;
  }
  if (body.thinking !== undefined && body.thinking !== null) {
    const t = body.thinking;
    if (!isObject(t) || typeof t.type !== 'string') invalid('thinking', 'must be an object with a `type`');
    additional.thinking = t as Json;
  }
  return {
    modelId,
    messages,
    ...(system.length > 0 ? { system } : {}),
    inferenceConfig: inference(body),
    ...(toolConfig ? { toolConfig } : {}),
    ...(Object.keys(additional).length > 0 ? { additionalModelRequestFields: additional } : {}),
    // Converse reports which stop sequence ended the answer only when asked.
    additionalModelResponseFieldPaths: ['/stop_sequence'],
  };
}

function inference(body: Record<string, unknown>): InferenceConfiguration {
  const max = body.max_tokens;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) invalid('max_tokens', 'is required: an integer >= 1');
  const config: InferenceConfiguration = { maxTokens: max as number };
  sampling(body, config);
  const stop = body.stop_sequences;
  if (stop !== undefined && stop !== null) {
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0))
      invalid('stop_sequences', 'must be an array of non-empty strings');
    if ((stop as string[]).length > 0) config.stopSequences = [...(stop as string[])];
  }
  return config;
}

/**
 * The cache point a block's `cache_control` asks for after it, or undefined: its `ttl` (`5m`,
 * `1h`) goes along (found by review: a 1-hour cache point became a 5-minute one).
 */
const cachePointOf = (block: Record<string, unknown>, at: string): typeof CACHE_POINT | undefined => {
  const c = block.cache_control;
  if (c === undefined || c === null) return undefined;
  if (!isObject(c) || c.type !== 'ephemeral') return invalid(`${at}.cache_control`, 'must be {"type": "ephemeral"}');
  if (c.ttl === undefined || c.ttl === null) return CACHE_POINT;
  if (c.ttl !== '5m' && c.ttl !== '1h') return invalid(`${at}.cache_control.ttl`, 'must be "5m" or "1h"');
  return { cachePoint: { ...CACHE_POINT.cachePoint, ttl: c.ttl } };
};

function systemBlocks(value: unknown): SystemContentBlock[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return hasText(value) ? [{ text: value }] : [];
  if (!Array.isArray(value)) return invalid('system', 'must be a string or an array of text blocks');
  const out: SystemContentBlock[] = [];
  value.forEach((block, i) => {
    const at = `system[${i}]`;
    if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') return invalid(at, 'must be a text block');
    if (hasText(block.text)) out.push({ text: block.text });
    const point = cachePointOf(block, at);
    if (point) out.push(point);
  });
  return out;
}

interface Turn {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

function turns(value: unknown): { messages: Message[]; toolBlocks: boolean } {
  if (!Array.isArray(value) || value.length === 0) invalid('messages', 'must be a non-empty array');
  const out: Turn[] = [];
  let toolBlocks = false;
  (value as unknown[]).forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) return invalid(at, 'must be an object');
    if (m.role !== 'user' && m.role !== 'assistant') return invalid(`${at}.role`, 'must be user or assistant');
    const blocks = contentBlocks(m.content, m.role, `${at}.content`);
    if (blocks.some((b) => b.toolUse || b.toolResult)) toolBlocks = true;
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === m.role) last.content.push(...blocks);
    else out.push({ role: m.role, content: blocks });
  });
  if (out.length === 0) invalid('messages', 'hold no content');
  if (out[0]?.role !== 'user') invalid('messages', 'must start with a user message');
  // Each tool call must be answered in the very next turn, as Claude requires.
  out.forEach((turn, k) => {
    const calls = turn.content.flatMap((b) => (b.toolUse?.toolUseId ? [b.toolUse.toolUseId] : []));
    if (calls.length === 0) return;
    const answered = new Set((out[k + 1]?.content ?? []).flatMap((b) => (b.toolResult?.toolUseId ? [b.toolResult.toolUseId] : [])));
    const missing = calls.filter((id) => !answered.has(id));
    if (missing.length > 0 && k + 1 < out.length)
      invalid('messages', `hold tool_use blocks without a tool_result in the next message: ${missing.join(', ')}`);
  });
  return { messages: out.map((t) => ({ role: t.role, content: t.content })), toolBlocks };
}

function contentBlocks(content: unknown, role: 'user' | 'assistant', at: string): ContentBlock[] {
  if (typeof content === 'string') return hasText(content) ? [{ text: content }] : [];
  if (!Array.isArray(content)) return invalid(at, 'must be a string or an array of content blocks');
  const out: ContentBlock[] = [];
  content.forEach((block, j) => {
    const p = `${at}[${j}]`;
    if (!isObject(block)) return invalid(p, 'must be an object');
    const type = block.type;
    if (type === 'text') {
      if (typeof block.text !== 'string') return invalid(`${p}.text`, 'must be a string');
      if (hasText(block.text)) out.push({ text: block.text });
    } else if (type === 'image') out.push({ image: image(block.source, `${p}.source`) });
    else if (type === 'document') out.push({ document: document(block, p, j) });
    else if (type === 'tool_use' && role === 'assistant') out.push({ toolUse: toolUse(block, p) });
    else if (type === 'tool_result' && role === 'user') out.push({ toolResult: toolResult(block, p) });
    else if ((type === 'thinking' || type === 'redacted_thinking') && role === 'assistant')
      out.push(reasoningBlockOf(block, p) as ContentBlock);
    else
      return unsupported(
        `${p}.type`,
        `\`${typeof type === 'string' ? type.slice(0, 64) : typeof type}\` is not supported in a ${role} message for Claude on Bedrock`,
      );
    const point = cachePointOf(block, p);
    if (point) out.push(point);
  });
  return out;
}

function base64Source(source: unknown, at: string, types: ReadonlyMap<string, string>): { mediaType: string; bytes: Uint8Array } {
  if (!isObject(source)) return invalid(at, 'must be an object');
  if (source.type !== 'base64' && !(source.type === 'text' && types.has('text/plain')))
    return unsupported(`${at}.type`, 'must be base64 on Bedrock (it fetches no URLs)');
  const mediaType = source.media_type;
  if (typeof mediaType !== 'string' || !types.has(mediaType))
    return unsupported(`${at}.media_type`, `must be one of ${[...types.keys()].join(', ')}`);
  if (typeof source.data !== 'string' || source.data.length === 0) return invalid(`${at}.data`, 'must be a non-empty string');
  const bytes = source.type === 'text' ? Buffer.from(source.data, 'utf8') : Buffer.from(source.data, 'base64');
  return { mediaType, bytes: new Uint8Array(bytes) };
}

function image(source: unknown, at: string): { format: ImageFormat; source: { bytes: Uint8Array } } {
  const { mediaType, bytes } = base64Source(source, at, IMAGE_TYPES);
  return { format: IMAGE_TYPES.get(mediaType) as ImageFormat, source: { bytes } };
}

function document(
  block: Record<string, unknown>,
  at: string,
  j: number,
): { format: DocumentFormat; name: string; source: { bytes: Uint8Array } } {
  const { mediaType, bytes } = base64Source(block.source, `${at}.source`, DOCUMENT_TYPES);
  // Bedrock wants a name of letters, digits, spaces, hyphens, parentheses and brackets.
  const title =
    typeof block.title === 'string'
      ? block.title
          .replace(/[^A-Za-z0-9 ()[\]-]/g, ' ')
          .replace(/\s+/g, ' ')
          .trim()
          .slice(0, 200)
      : '';
  return { format: DOCUMENT_TYPES.get(mediaType) as DocumentFormat, name: title || `document-${j}`, source: { bytes } };
}

function toolUse(block: Record<string, unknown>, at: string): { toolUseId: string; name: string; input: Json } {
  if (typeof block.id !== 'string' || !TOOL_USE_ID.test(block.id)) return invalid(`${at}.id`, 'must be 1-64 letters, digits, `_` or `-`');
  if (typeof block.name !== 'string' || !TOOL_NAME.test(block.name))
    return invalid(`${at}.name`, 'must be 1-64 letters, digits, `_` or `-`');
  if (!isObject(block.input)) return invalid(`${at}.input`, 'must be an object');
  return { toolUseId: block.id, name: block.name, input: block.input as Json };
}

function toolResult(
  block: Record<string, unknown>,
  at: string,
): { toolUseId: string; content: ToolResultContentBlock[]; status?: 'error' } {
  if (typeof block.tool_use_id !== 'string' || !TOOL_USE_ID.test(block.tool_use_id))
    return invalid(`${at}.tool_use_id`, 'must be 1-64 letters, digits, `_` or `-`');
  const content: ToolResultContentBlock[] = [];
  const c = block.content;
  if (typeof c === 'string') {
    if (hasText(c)) content.push({ text: c });
  } else if (Array.isArray(c)) {
    c.forEach((part, k) => {
      const p = `${at}.content[${k}]`;
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') {
        if (hasText(part.text)) content.push({ text: part.text });
      } else if (isObject(part) && part.type === 'image') content.push({ image: image(part.source, `${p}.source`) });
      else unsupported(`${p}.type`, 'must be text or image');
    });
  } else if (c !== undefined && c !== null) invalid(`${at}.content`, 'must be a string or an array of blocks');
  return { toolUseId: block.tool_use_id, content, ...(block.is_error === true ? { status: 'error' as const } : {}) };
}

function tools(value: unknown, choice: unknown, historyHasToolBlocks: boolean): ToolConfiguration | undefined {
  const specs: Tool[] = [];
  const names = new Set<string>();
  if (value !== undefined && value !== null) {
    if (!Array.isArray(value)) invalid('tools', 'must be an array');
    (value as unknown[]).forEach((tool, k) => {
      const at = `tools[${k}]`;
      if (!isObject(tool)) return invalid(at, 'must be an object');
      if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom')
        return unsupported(`${at}.type`, 'must be a custom tool on Bedrock (server tools are not available)');
      if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name))
        return invalid(`${at}.name`, 'must be 1-64 letters, digits, `_` or `-`');
      if (names.has(tool.name)) return invalid(`${at}.name`, `repeats the tool \`${tool.name}\``);
      names.add(tool.name);
      if (!isObject(tool.input_schema)) return invalid(`${at}.input_schema`, 'must be a JSON schema object');
      const description = typeof tool.description === 'string' && tool.description.length > 0 ? { description: tool.description } : {};
      specs.push({ toolSpec: { name: tool.name, ...description, inputSchema: { json: tool.input_schema as Json } } });
      const point = cachePointOf(tool, at);
      if (point) specs.push(point);
    });
  }
  if (historyHasToolBlocks && names.size === 0)
    invalid('tools', 'must declare the tools the conversation used: Bedrock refuses tool_use and tool_result blocks without them');
  if (choice === undefined || choice === null) return names.size > 0 ? { tools: specs } : undefined;
  if (!isObject(choice)) return invalid('tool_choice', 'must be an object');
  if (choice.disable_parallel_tool_use === true)
    unsupported('tool_choice.disable_parallel_tool_use', 'is not available through Bedrock Converse');
  if (choice.type !== 'none' && names.size === 0) invalid('tool_choice', 'needs `tools`');
  switch (choice.type) {
    case 'auto':
      return { tools: specs, toolChoice: { auto: {} } };
    case 'any':
      return { tools: specs, toolChoice: { any: {} } };
    case 'tool':
      if (typeof choice.name !== 'string' || !names.has(choice.name)) return invalid('tool_choice.name', 'must name one of `tools`');
      return { tools: specs, toolChoice: { tool: { name: choice.name } } };
    case 'none':
      // Converse cannot forbid tools it was given: give none unless the conversation needs them.
      return historyHasToolBlocks ? { tools: specs } : undefined;
    default:
      return unsupported('tool_choice.type', 'must be auto, any, tool or none');
  }
}

// ---------------------------------------------------------------------------------------------
// Response

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'refusal'
  | 'model_context_window_exceeded'
  | 'pause_turn';

const STOP: Readonly<Record<StopReason, AnthropicStopReason>> = {
  end_turn: 'end_turn',
  stop_sequence: 'stop_sequence',
  max_tokens: 'max_tokens',
  tool_use: 'tool_use',
  content_filtered: 'refusal',
  guardrail_intervened: 'refusal',
  model_context_window_exceeded: 'model_context_window_exceeded',
  malformed_model_output: 'end_turn',
  malformed_tool_use: 'end_turn',
};

export const anthropicStopReason = (reason: string | undefined): AnthropicStopReason =>
  reason !== undefined && Object.hasOwn(STOP, reason) ? STOP[reason as StopReason] : 'end_turn';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const anthropicUsage = (u: TokenUsage | undefined): AnthropicUsage => ({
  input_tokens: u?.inputTokens ?? 0,
  output_tokens: u?.outputTokens ?? 0,
  cache_creation_input_tokens: u?.cacheWriteTokens ?? 0,
  cache_read_input_tokens: u?.cacheReadTokens ?? 0,
});

export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | ThinkingBlock;

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export interface MessageContext {
  id: string;
  model: string;
}

const stopSequenceOf = (fields: unknown): string | null =>
  isObject(fields) && typeof fields.stop_sequence === 'string' ? fields.stop_sequence : null;

function blockOf(block: ContentBlock): AnthropicBlock | undefined {
  if (typeof block.text === 'string') return { type: 'text', text: block.text };
  if (block.toolUse)
    return { type: 'tool_use', id: block.toolUse.toolUseId ?? '', name: block.toolUse.name ?? '', input: block.toolUse.input ?? {} };
  return thinkingBlockOf(block);
}

/** The Anthropic message for a Converse answer, with its usage (undefined when Bedrock reported none). */
export function converseToMessage(
  out: Pick<ConverseCommandOutput, 'output' | 'stopReason' | 'usage' | 'additionalModelResponseFields'>,
  ctx: MessageContext,
): { body: AnthropicMessage; usage: TokenUsage | undefined } {
  const usage = usageOfConverse(out.usage);
  const content = (out.output?.message?.content ?? []).map(blockOf).filter((b): b is AnthropicBlock => b !== undefined);
  return {
    body: {
      id: ctx.id,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content,
      stop_reason: anthropicStopReason(out.stopReason),
      stop_sequence: stopSequenceOf(out.additionalModelResponseFields),
      usage: anthropicUsage(usage),
    },
    usage,
  };
}

/** One Anthropic stream event: its name and its data. */
export interface MessagesEvent {
  event: string;
  data: Record<string, unknown>;
}

/**
 * ConverseStream events to Anthropic's stream events: message_start, then per content block a
 * content_block_start, its deltas and a content_block_stop, then message_delta (stop reason and
 * the usage, which Converse reports only at the end, in its metadata event) and message_stop.
 * Converse starts text and thinking blocks implicitly with their first delta; their start event
 * is made then.
 */
export class MessagesStreamer {
  private readonly started = new Set<number>();
  private stop: { reason: AnthropicStopReason; sequence: string | null } | undefined;
  private usageSeen: TokenUsage | undefined;
  private opened = false;
  private finished = false;

  constructor(private readonly ctx: MessageContext) {}

  get usage(): TokenUsage | undefined {
    return this.usageSeen;
  }

  push(event: ConverseStreamOutput): MessagesEvent[] {
    const out: MessagesEvent[] = [];
    if (!this.opened) out.push(this.messageStart());
    if (event.contentBlockStart) {
      const { start, contentBlockIndex: index = 0 } = event.contentBlockStart;
      if (start?.toolUse && !this.started.has(index)) {
        this.started.add(index);
        out.push({
          event: 'content_block_start',
          data: {
            type: 'content_block_start',
            index,
            content_block: { type: 'tool_use', id: start.toolUse.toolUseId ?? '', name: start.toolUse.name ?? '', input: {} },
          },
        });
      }
    } else if (event.contentBlockDelta) {
      const { delta, contentBlockIndex: index = 0 } = event.contentBlockDelta;
      const r = delta?.reasoningContent;
      if (typeof delta?.text === 'string') {
        out.push(...this.startIfNew(index, { type: 'text', text: '' }));
        out.push(this.delta(index, { type: 'text_delta', text: delta.text }));
      } else if (delta?.toolUse) {
        out.push(this.delta(index, { type: 'input_json_delta', partial_json: delta.toolUse.input ?? '' }));
      } else if (typeof r?.text === 'string') {
        out.push(...this.startIfNew(index, { type: 'thinking', thinking: '', signature: '' }));
        out.push(this.delta(index, { type: 'thinking_delta', thinking: r.text }));
      } else if (typeof r?.signature === 'string') {
        out.push(...this.startIfNew(index, { type: 'thinking', thinking: '', signature: '' }));
        out.push(this.delta(index, { type: 'signature_delta', signature: r.signature }));
      } else if (r?.redactedContent) {
        out.push(...this.startIfNew(index, { type: 'redacted_thinking', data: Buffer.from(r.redactedContent).toString('base64') }));
      }
    } else if (event.contentBlockStop) {
      const index = event.contentBlockStop.contentBlockIndex ?? 0;
      if (this.started.has(index)) out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    } else if (event.messageStop) {
      this.stop = {
        reason: anthropicStopReason(event.messageStop.stopReason),
        sequence: stopSequenceOf(event.messageStop.additionalModelResponseFields),
      };
    } else if (event.metadata) {
      this.usageSeen = usageOfConverse(event.metadata.usage);
      out.push(...this.end());
    }
    return out;
  }

  /** What is still owed when Bedrock's stream ends (its metadata event never came). */
  end(): MessagesEvent[] {
    if (this.finished || !this.stop) return [];
    this.finished = true;
    return [
      {
        event: 'message_delta',
        data: {
          type: 'message_delta',
          delta: { stop_reason: this.stop.reason, stop_sequence: this.stop.sequence },
          usage: anthropicUsage(this.usageSeen),
        },
      },
      { event: 'message_stop', data: { type: 'message_stop' } },
    ];
  }

  private messageStart(): MessagesEvent {
    this.opened = true;
    const message = {
      id: this.ctx.id,
      type: 'message',
      role: 'assistant',
      model: this.ctx.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: anthropicUsage(undefined),
    };
    return { event: 'message_start', data: { type: 'message_start', message } };
  }

  private startIfNew(index: number, block: Record<string, unknown>): MessagesEvent[] {
    if (this.started.has(index)) return [];
    this.started.add(index);
    return [{ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: block } }];
  }

  private delta(index: number, delta: Record<string, unknown>): MessagesEvent {
    return { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } };
  }
}
