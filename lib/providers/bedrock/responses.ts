/**
 * OpenAI's Responses API (what current OpenAI SDKs and agent frameworks call by default) on
 * Bedrock through Converse, and back: pure. The request is read as the chat request it amounts
 * to (instructions as a system message, message items as messages, function_call and
 * function_call_output items as tool calls and tool results) and goes through the chat
 * translation, so both obey the same rules; a refusal names the Responses field (`input[3]`,
 * `max_output_tokens`), not the chat one. Stateless only: Tollgate stores no responses, so
 * `previous_response_id` and `background` are refused. Claude's extended thinking: `reasoning.effort`
 * is the chat translation's `reasoning_effort`; a thinking block answers as a `reasoning` item (its
 * text in `content`, its signature in `encrypted_content`, a redacted block's data there too,
 * marked), and a `reasoning` item sent back is the thinking of the assistant turn after it.
 *
 * The answer is a Response object: a message item for text, a function_call item per tool call,
 * `incomplete` with its reason when Converse stopped on max tokens or a filter, and the usage
 * (input tokens include cached ones, as OpenAI counts them). Streamed, it is the Responses event
 * sequence: response.created, response.in_progress, per output item its added/delta/done
 * events, then response.completed (or response.incomplete) carrying the usage.
 */
import type { ConverseCommandInput, ConverseCommandOutput, ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { isObject } from '../../domain/json.js';
import { type InvalidRequestCode, InvalidRequestError } from '../../errors.js';
import type { TokenUsage } from '../types.js';
import { invalid, type ThinkingBlock, thinkingBlockOf, toConverseRequest, unsupported, usageOfConverse } from './translate.js';

// ---------------------------------------------------------------------------------------------
// Request

const IGNORED = new Set([
  'model',
  'stream',
  'store',
  'metadata',
  'user',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
  'truncation',
  'include',
  'stream_options',
]);
const READ = new Set([
  'input',
  'instructions',
  'max_output_tokens',
  'temperature',
  'top_p',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'text',
]);

type ChatMessage = Record<string, unknown>;

/** The Converse request for a Responses API request. Throws a 400 naming the Responses field. */
export function responsesToConverse(body: Record<string, unknown>, modelId: string): ConverseCommandInput {
  for (const [field, value] of Object.entries(body)) {
    if (value === null || value === undefined || READ.has(field) || IGNORED.has(field)) continue;
    if (field === 'previous_response_id')
      unsupported(field, 'needs stored responses; Tollgate stores none: send the whole conversation in `input`');
    if (field === 'background' && value === false) continue;
    if (field === 'reasoning') {
      if (!isObject(value)) invalid('reasoning', 'must be an object');
      continue;
    }
    unsupported(field, 'is not supported for Bedrock models');
  }
  if (body.truncation !== undefined && body.truncation !== null && body.truncation !== 'disabled')
    unsupported('truncation', 'must be disabled on Bedrock');
  const { messages, origin } = chatMessages(body.instructions, body.input);
  const chat: Record<string, unknown> = { messages };
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null) chat.max_tokens = body.max_output_tokens;
  if (body.temperature !== undefined) chat.temperature = body.temperature;
  if (body.top_p !== undefined) chat.top_p = body.top_p;
  if (body.parallel_tool_calls !== undefined) chat.parallel_tool_calls = body.parallel_tool_calls;
  // Claude's thinking shows whole: a summary setting asks for nothing more.
  const effort = isObject(body.reasoning) ? body.reasoning.effort : undefined;
  if (effort !== undefined && effort !== null) chat.reasoning_effort = effort;
  if (body.tools !== undefined && body.tools !== null) chat.tools = chatTools(body.tools);
  if (body.tool_choice !== undefined && body.tool_choice !== null) chat.tool_choice = chatToolChoice(body.tool_choice);
  const format = isObject(body.text)
    ? body.text.format
    : body.text === undefined || body.text === null
      ? undefined
      : invalid('text', 'must be an object');
  if (format !== undefined && format !== null) chat.response_format = chatFormat(format);
  try {
    return toConverseRequest(chat, modelId);
  } catch (e) {
    if (e instanceof InvalidRequestError && e.param) throw renamed(e, responsesParam(e.param, origin));
    throw e;
  }
}

/** Where a chat message came from: `instructions` or an index into `input`, and the items of its tool calls. */
interface Origin {
  from: 'instructions' | number;
  calls: number[];
}

function chatMessages(instructions: unknown, input: unknown): { messages: ChatMessage[]; origin: Origin[] } {
  const messages: ChatMessage[] = [];
  const origin: Origin[] = [];
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'string') invalid('instructions', 'must be a string');
    messages.push({ role: 'system', content: instructions });
    origin.push({ from: 'instructions', calls: [] });
  }
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    origin.push({ from: 0, calls: [] });
    return { messages, origin };
  }
  if (!Array.isArray(input) || input.length === 0) invalid('input', 'must be a string or a non-empty array of items');
  // Reasoning items wait for the assistant turn they thought for: the next message or call.
  let thoughts: Record<string, unknown>[] = [];
  const thinking = () => {
    const blocks = thoughts;
    thoughts = [];
    return blocks.length > 0 ? { thinking_blocks: blocks } : {};
  };
  (input as unknown[]).forEach((item, i) => {
    const at = `input[${i}]`;
    if (!isObject(item)) return invalid(at, 'must be an object');
    const type = item.type ?? 'message';
    const last = messages.at(-1);
    if (type === 'reasoning') {
      // Thinking Claude did not sign (none kept, or another model's reasoning) cannot go back to it: left out.
      const block = thinkingBlock(item, at);
      if (block) thoughts.push(block);
    } else if (type === 'message') {
      const role = item.role;
      if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer')
        return invalid(`${at}.role`, 'must be user, assistant, system or developer');
      messages.push({ role, content: contentParts(item.content, role, `${at}.content`), ...(role === 'assistant' ? thinking() : {}) });
      if (role !== 'assistant') thoughts = [];
      origin.push({ from: i, calls: [] });
    } else if (type === 'function_call') {
      if (typeof item.call_id !== 'string') return invalid(`${at}.call_id`, 'must be a string');
      if (typeof item.name !== 'string') return invalid(`${at}.name`, 'must be a string');
      if (typeof item.arguments !== 'string') return invalid(`${at}.arguments`, 'must be a string holding a JSON object');
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      // Calls of one turn (and the text before them) are one assistant message, as in chat.
      if (last?.role === 'assistant') {
        last.tool_calls = [...((last.tool_calls as unknown[]) ?? []), call];
        // Thinking between the turn's text and its call is the turn's too (found by review: dropped).
        const more = thinking().thinking_blocks;
        if (more) last.thinking_blocks = [...((last.thinking_blocks as unknown[]) ?? []), ...more];
        origin.at(-1)?.calls.push(i);
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [call], ...thinking() });
        origin.push({ from: i, calls: [i] });
      }
    } else if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string') return invalid(`${at}.call_id`, 'must be a string');
      const output =
        typeof item.output === 'string'
          ? item.output
          : Array.isArray(item.output)
            ? contentParts(item.output, 'tool', `${at}.output`)
            : invalid(`${at}.output`, 'must be a string');
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: output });
      origin.push({ from: i, calls: [] });
    } else {
      unsupported(
        `${at}.type`,
        `\`${typeof type === 'string' ? type.slice(0, 64) : typeof type}\` items are not supported on Bedrock (supported: message, function_call, function_call_output, reasoning)`,
      );
    }
  });
  return { messages, origin };
}

/** How a redacted thinking block's data is marked in a reasoning item's `encrypted_content` (a signature has no `:`). */
const REDACTED = 'redacted_thinking:';

/**
 * A reasoning item sent back, as the chat translation's thinking block: its `content` texts are
 * the thinking, its `encrypted_content` the signature (or, marked, a redacted block's data).
 * Undefined for one without a signature: Claude takes back only thinking it signed.
 */
function thinkingBlock(item: Record<string, unknown>, at: string): Record<string, unknown> | undefined {
  const sealed = item.encrypted_content;
  if (sealed !== undefined && sealed !== null && typeof sealed !== 'string') return invalid(`${at}.encrypted_content`, 'must be a string');
  if (typeof sealed === 'string' && sealed.startsWith(REDACTED)) return { type: 'redacted_thinking', data: sealed.slice(REDACTED.length) };
  const content = item.content ?? [];
  if (!Array.isArray(content)) return invalid(`${at}.content`, 'must be an array of reasoning_text parts');
  const texts = content.map((part, j) =>
    isObject(part) && part.type === 'reasoning_text' && typeof part.text === 'string'
      ? part.text
      : invalid(`${at}.content[${j}]`, 'must be a reasoning_text part with its text'),
  );
  if (typeof sealed !== 'string' || sealed.length === 0) return undefined;
  return { type: 'thinking', thinking: texts.join(''), signature: sealed };
}

/** A Converse thinking block as a reasoning item. */
function reasoningItem(id: string, block: ThinkingBlock): Item {
  return block.type === 'thinking'
    ? {
        type: 'reasoning',
        id,
        summary: [],
        content: [{ type: 'reasoning_text', text: block.thinking }],
        encrypted_content: block.signature,
      }
    : { type: 'reasoning', id, summary: [], content: [], encrypted_content: `${REDACTED}${block.data}` };
}

/** A message's content as chat content parts (text and images), validated under Responses names. */
function contentParts(content: unknown, role: string, at: string): string | Record<string, unknown>[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return invalid(at, 'must be a string or an array of content parts');
  return content.map((part, j) => {
    const p = `${at}[${j}]`;
    if (!isObject(part)) return invalid(p, 'must be an object');
    const type = part.type;
    if (type === 'input_text' || type === 'output_text' || type === 'text') {
      if (typeof part.text !== 'string') return invalid(`${p}.text`, 'must be a string');
      return { type: 'text', text: part.text };
    }
    if (type === 'refusal' && role === 'assistant') return { type: 'text', text: typeof part.refusal === 'string' ? part.refusal : '' };
    if (type === 'input_image' && role === 'user') {
      if (typeof part.image_url !== 'string')
        return unsupported(`${p}.image_url`, 'must be a data URL (file ids are not available on Bedrock)');
      return { type: 'image_url', image_url: { url: part.image_url } };
    }
    return unsupported(`${p}.type`, `\`${typeof type === 'string' ? type.slice(0, 64) : typeof type}\` is not supported here on Bedrock`);
  });
}

function chatTools(tools: unknown): unknown[] {
  if (!Array.isArray(tools)) return invalid('tools', 'must be an array');
  return tools.map((tool, k) => {
    if (!isObject(tool)) return invalid(`tools[${k}]`, 'must be an object');
    if (tool.type !== 'function') return unsupported(`tools[${k}].type`, 'must be `function` on Bedrock (built-in tools are OpenAI’s)');
    const { type: _, ...fn } = tool;
    return { type: 'function', function: fn };
  });
}

function chatToolChoice(choice: unknown): unknown {
  if (typeof choice === 'string') return choice;
  if (isObject(choice) && choice.type === 'function') return { type: 'function', function: { name: choice.name } };
  return unsupported('tool_choice', 'must be auto, required, none or a named function on Bedrock');
}

function chatFormat(format: unknown): unknown {
  if (!isObject(format)) return invalid('text.format', 'must be an object');
  if (format.type === 'json_schema') {
    const { type: _, ...spec } = format;
    return { type: 'json_schema', json_schema: spec };
  }
  return format;
}

/** A chat translation's param, as the Responses request names it. */
function responsesParam(param: string, origin: Origin[]): string {
  const m = /^messages\[(\d+)\](.*)$/.exec(param);
  if (m) {
    const o = origin[Number(m[1])];
    if (!o) return 'input';
    if (o.from === 'instructions') return 'instructions';
    const rest = m[2] ?? '';
    const call = /^\.tool_calls(?:\[(\d+)\])?(.*)$/.exec(rest);
    if (call) {
      // A tool call's field is its function_call item's: `.function.arguments` -> `.arguments`, `.id` -> `.call_id`.
      const item = o.calls[Number(call[1] ?? 0)] ?? o.from;
      const field = (call[2] ?? '').replace(/^\.function\./, '.').replace(/^\.id$/, '.call_id');
      return `input[${item}]${field}`;
    }
    return `input[${o.from}]${rest.replace(/^\.tool_call_id$/, '.call_id')}`;
  }
  if (param === 'messages') return 'input';
  if (param === 'max_tokens') return 'max_output_tokens';
  if (param === 'reasoning_effort') return 'reasoning.effort';
  if (param.startsWith('response_format')) return param.replace(/^response_format(\.json_schema)?/, 'text.format');
  if (param.startsWith('tool_choice.function.')) return param.replace('tool_choice.function.', 'tool_choice.');
  return param.replace(/^tools\[(\d+)\]\.function\./, 'tools[$1].');
}

function renamed(e: InvalidRequestError, param: string): InvalidRequestError {
  if (param === e.param) return e;
  return new InvalidRequestError(e.message.replace(`\`${e.param}\``, `\`${param}\``), e.code as InvalidRequestCode, param);
}

// ---------------------------------------------------------------------------------------------
// Response

export interface ResponsesContext {
  id: string;
  /** Seconds since the epoch. */
  created: number;
  model: string;
  /** The request, for the fields a Response echoes. */
  request: Record<string, unknown>;
}

type Item = Record<string, unknown>;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responsesUsage(u: TokenUsage): ResponsesUsage {
  const input = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheReadTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + u.outputTokens,
  };
}

const INCOMPLETE: Readonly<Record<string, string>> = {
  max_tokens: 'max_output_tokens',
  model_context_window_exceeded: 'max_output_tokens',
  content_filtered: 'content_filter',
  guardrail_intervened: 'content_filter',
};

/** The Response object around output items. */
function response(
  ctx: ResponsesContext,
  status: 'in_progress' | 'completed' | 'incomplete',
  output: Item[],
  stopReason: string | undefined,
  usage: TokenUsage | undefined,
): Record<string, unknown> {
  const r = ctx.request;
  const reason = stopReason !== undefined && Object.hasOwn(INCOMPLETE, stopReason) ? INCOMPLETE[stopReason] : undefined;
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.created,
    status,
    error: null,
    incomplete_details: status === 'incomplete' && reason ? { reason } : null,
    instructions: typeof r.instructions === 'string' ? r.instructions : null,
    max_output_tokens: typeof r.max_output_tokens === 'number' ? r.max_output_tokens : null,
    model: ctx.model,
    output,
    parallel_tool_calls: r.parallel_tool_calls !== false,
    previous_response_id: null,
    reasoning: { effort: isObject(r.reasoning) ? (r.reasoning.effort ?? null) : null, summary: null },
    store: false,
    temperature: typeof r.temperature === 'number' ? r.temperature : null,
    text: isObject(r.text) ? r.text : { format: { type: 'text' } },
    tool_choice: r.tool_choice ?? 'auto',
    tools: Array.isArray(r.tools) ? r.tools : [],
    top_p: typeof r.top_p === 'number' ? r.top_p : null,
    truncation: 'disabled',
    usage: usage && status !== 'in_progress' ? responsesUsage(usage) : null,
    user: typeof r.user === 'string' ? r.user : null,
    metadata: isObject(r.metadata) ? r.metadata : {},
  };
}

const statusOf = (stopReason: string | undefined): 'completed' | 'incomplete' =>
  stopReason !== undefined && Object.hasOwn(INCOMPLETE, stopReason) ? 'incomplete' : 'completed';

/** The Response for a Converse answer, with its usage (undefined when Bedrock reported none). */
export function converseToResponse(
  out: Pick<ConverseCommandOutput, 'output' | 'stopReason' | 'usage'>,
  ctx: ResponsesContext,
): { body: Record<string, unknown>; usage: TokenUsage | undefined } {
  const items: Item[] = [];
  const texts: string[] = [];
  const status = statusOf(out.stopReason);
  const flushText = () => {
    if (texts.length === 0) return;
    items.push(messageItem(`msg_${ctx.id}_${items.length}`, texts.join(''), status));
    texts.length = 0;
  };
  for (const block of out.output?.message?.content ?? []) {
    const thought = thinkingBlockOf(block);
    if (typeof block.text === 'string') texts.push(block.text);
    else if (thought) {
      flushText();
      items.push(reasoningItem(`rs_${ctx.id}_${items.length}`, thought));
    } else if (block.toolUse) {
      flushText();
      items.push(
        functionCallItem(
          `fc_${ctx.id}_${items.length}`,
          block.toolUse.toolUseId ?? '',
          block.toolUse.name ?? '',
          JSON.stringify(block.toolUse.input ?? {}),
          'completed',
        ),
      );
    }
  }
  flushText();
  const usage = usageOfConverse(out.usage);
  return { body: response(ctx, status, items, out.stopReason, usage), usage };
}

const messageItem = (id: string, text: string, status: string): Item => ({
  type: 'message',
  id,
  status,
  role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
});
const functionCallItem = (id: string, callId: string, name: string, args: string, status: string): Item => ({
  type: 'function_call',
  id,
  call_id: callId,
  name,
  arguments: args,
  status,
});

/** One Responses stream event: its type (also the SSE event name) and its data. */
export interface ResponsesEvent {
  event: string;
  data: Record<string, unknown>;
}

interface OpenItem {
  outputIndex: number;
  item: Item;
  text: string;
}

/** ConverseStream events to the Responses API's stream events. */
export class ResponsesStreamer {
  private sequence = 0;
  private readonly items: Item[] = [];
  /** Output items still open, by Converse content block index. */
  private readonly open = new Map<number, OpenItem>();
  private stopReason: string | undefined;
  private usageSeen: TokenUsage | undefined;
  private started = false;
  private finished = false;

  constructor(private readonly ctx: ResponsesContext) {}

  get usage(): TokenUsage | undefined {
    return this.usageSeen;
  }

  push(event: ConverseStreamOutput): ResponsesEvent[] {
    const out = this.start();
    if (event.contentBlockStart?.start?.toolUse) {
      const { contentBlockIndex: index = 0, start } = event.contentBlockStart;
      const item = functionCallItem(
        `fc_${this.ctx.id}_${this.items.length}`,
        start.toolUse?.toolUseId ?? '',
        start.toolUse?.name ?? '',
        '',
        'in_progress',
      );
      out.push(...this.addItem(index, item));
    } else if (event.contentBlockDelta) {
      const { delta, contentBlockIndex: index = 0 } = event.contentBlockDelta;
      if (typeof delta?.text === 'string') {
        if (!this.open.has(index)) {
          const item: Item = { ...messageItem(`msg_${this.ctx.id}_${this.items.length}`, '', 'in_progress'), content: [] };
          out.push(...this.addItem(index, item));
          const open = this.open.get(index) as OpenItem;
          out.push(
            this.emit('response.content_part.added', {
              item_id: item.id,
              output_index: open.outputIndex,
              content_index: 0,
              part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
            }),
          );
        }
        const open = this.open.get(index) as OpenItem;
        open.text += delta.text;
        out.push(
          this.emit('response.output_text.delta', {
            item_id: open.item.id,
            output_index: open.outputIndex,
            content_index: 0,
            delta: delta.text,
            logprobs: [],
          }),
        );
      } else if (delta?.reasoningContent) {
        out.push(...this.reasoning(index, delta.reasoningContent));
      } else if (delta?.toolUse) {
        const open = this.open.get(index);
        if (open) {
          open.text += delta.toolUse.input ?? '';
          out.push(
            this.emit('response.function_call_arguments.delta', {
              item_id: open.item.id,
              output_index: open.outputIndex,
              delta: delta.toolUse.input ?? '',
            }),
          );
        }
      }
    } else if (event.contentBlockStop) {
      out.push(...this.closeItem(event.contentBlockStop.contentBlockIndex ?? 0));
    } else if (event.messageStop) {
      this.stopReason = event.messageStop.stopReason;
    } else if (event.metadata) {
      this.usageSeen = usageOfConverse(event.metadata.usage);
      out.push(...this.end());
    }
    return out;
  }

  /** What is still owed when Bedrock's stream ends: open items closed, the final event. */
  end(): ResponsesEvent[] {
    if (this.finished) return [];
    const out = this.start();
    for (const index of [...this.open.keys()]) out.push(...this.closeItem(index));
    this.finished = true;
    const status = statusOf(this.stopReason);
    out.push(
      this.emit(status === 'completed' ? 'response.completed' : 'response.incomplete', {
        response: response(this.ctx, status, this.items, this.stopReason, this.usageSeen),
      }),
    );
    return out;
  }

  private start(): ResponsesEvent[] {
    if (this.started) return [];
    this.started = true;
    const initial = response(this.ctx, 'in_progress', [], undefined, undefined);
    return [this.emit('response.created', { response: initial }), this.emit('response.in_progress', { response: initial })];
  }

  /**
   * A thinking delta: its text as `response.reasoning_text.delta` of a reasoning item opened by the
   * first; its signature kept for the item's `encrypted_content`; a redacted block, an item whole.
   */
  private reasoning(index: number, r: { text?: string; signature?: string; redactedContent?: Uint8Array }): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    if (!this.open.has(index)) {
      const id = `rs_${this.ctx.id}_${this.items.length}`;
      out.push(...this.addItem(index, { type: 'reasoning', id, summary: [], content: [] }));
    }
    const open = this.open.get(index) as OpenItem;
    if (typeof r.text === 'string') {
      open.text += r.text;
      out.push(
        this.emit('response.reasoning_text.delta', {
          item_id: open.item.id,
          output_index: open.outputIndex,
          content_index: 0,
          delta: r.text,
        }),
      );
    } else if (typeof r.signature === 'string') open.item.encrypted_content = r.signature;
    else if (r.redactedContent) open.item.encrypted_content = `${REDACTED}${Buffer.from(r.redactedContent).toString('base64')}`;
    return out;
  }

  private addItem(index: number, item: Item): ResponsesEvent[] {
    const outputIndex = this.items.length;
    this.items.push(item);
    this.open.set(index, { outputIndex, item, text: '' });
    return [this.emit('response.output_item.added', { output_index: outputIndex, item })];
  }

  private closeItem(index: number): ResponsesEvent[] {
    const open = this.open.get(index);
    if (!open) return [];
    this.open.delete(index);
    const { outputIndex, item, text } = open;
    const out: ResponsesEvent[] = [];
    let done: Item;
    if (item.type === 'message') {
      const part = { type: 'output_text', text, annotations: [], logprobs: [] };
      out.push(
        this.emit('response.output_text.done', { item_id: item.id, output_index: outputIndex, content_index: 0, text, logprobs: [] }),
      );
      out.push(this.emit('response.content_part.done', { item_id: item.id, output_index: outputIndex, content_index: 0, part }));
      done = { ...item, status: 'completed', content: [part] };
    } else if (item.type === 'reasoning') {
      const redacted = typeof item.encrypted_content === 'string' && item.encrypted_content.startsWith(REDACTED);
      if (!redacted)
        out.push(this.emit('response.reasoning_text.done', { item_id: item.id, output_index: outputIndex, content_index: 0, text }));
      done = { ...item, content: redacted ? [] : [{ type: 'reasoning_text', text }], encrypted_content: item.encrypted_content ?? '' };
    } else {
      out.push(this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: outputIndex, arguments: text }));
      done = { ...item, status: 'completed', arguments: text };
    }
    this.items[outputIndex] = done;
    out.push(this.emit('response.output_item.done', { output_index: outputIndex, item: done }));
    return out;
  }

  private emit(type: string, data: Record<string, unknown>): ResponsesEvent {
    return { event: type, data: { type, sequence_number: this.sequence++, ...data } };
  }
}
