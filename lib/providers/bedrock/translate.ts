/**
 * OpenAI chat completions to Amazon Bedrock's Converse API and back: pure, no SDK at run time
 * (its types only). What Converse can express is translated; what it cannot is a 400 naming the
 * field, never silently dropped.
 *
 * The request side also gives Bedrock the shape it enforces: system and developer messages move
 * to `system`; tool results become `toolResult` blocks of a user turn; consecutive turns of one
 * role are merged, so roles alternate starting with a user turn; blank text is left out and no
 * message is empty; every tool call is answered in the next turn; tools are declared whenever
 * the conversation holds tool blocks.
 */
import type {
  TokenUsage as BedrockTokenUsage,
  ContentBlock,
  ConverseCommandInput,
  ConverseCommandOutput,
  ImageFormat,
  InferenceConfiguration,
  Message,
  OutputConfig,
  StopReason,
  SystemContentBlock,
  Tool,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { isObject } from '../../domain/json.js';
import { InvalidRequestError } from '../../errors.js';
import { UnsupportedParameterError } from '../errors.js';
import type { TokenUsage } from '../types.js';
import { badFigure, tokens } from '../usage.js';

// ---------------------------------------------------------------------------------------------
// OpenAI's answer shapes (what the translation produces)

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * Claude's thinking as LiteLLM shows it in a chat message (`thinking_blocks`), signature
 * included: sent back on the next assistant message, it lets Claude go on after a tool call.
 */
export type ThinkingBlock = { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string };

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  /** LiteLLM's extra fields: what was written to and read from the prompt cache. */
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: [
    {
      index: 0;
      message: {
        role: 'assistant';
        content: string | null;
        refusal: null;
        tool_calls?: ChatToolCall[];
        reasoning_content?: string;
        thinking_blocks?: ThinkingBlock[];
      };
      logprobs: null;
      finish_reason: FinishReason;
    },
  ];
  usage: ChatUsage;
}

/** Where an answer's `id`, `created` and `model` come from. */
export interface AnswerContext {
  id: string;
  /** Seconds since the epoch. */
  created: number;
  model: string;
}

// ---------------------------------------------------------------------------------------------
// Request

/** Fields read and translated. */
const TRANSLATED = new Set([
  'messages',
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'tools',
  'tool_choice',
  'response_format',
  'reasoning_effort',
  'thinking',
]);
/** Fields that change nothing upstream: Tollgate's own (`user`), transport (`stream`), bookkeeping. */
const IGNORED = new Set([
  'model',
  'user',
  'stream',
  'stream_options',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'safety_identifier',
]);
/** Fields accepted only at the value that means "as Converse does anyway". */
const NEUTRAL: ReadonlyMap<string, { ok: (v: unknown) => boolean; why: string }> = new Map([
  ['n', { ok: (v) => v === 1, why: 'must be 1: Bedrock answers with one choice' }],
  ['frequency_penalty', { ok: (v) => v === 0, why: 'must be 0: Bedrock Converse has no frequency penalty' }],
  ['presence_penalty', { ok: (v) => v === 0, why: 'must be 0: Bedrock Converse has no presence penalty' }],
  ['logprobs', { ok: (v) => v === false, why: 'must be false: Bedrock does not return log probabilities' }],
  ['top_logprobs', { ok: (v) => v === 0, why: 'must be 0: Bedrock does not return log probabilities' }],
  ['logit_bias', { ok: (v) => isObject(v) && Object.keys(v).length === 0, why: 'is not supported by Bedrock' }],
  ['parallel_tool_calls', { ok: (v) => v === true, why: 'cannot be turned off on Bedrock: a model may call several tools at once' }],
]);

/** Bedrock's rules for tool names and tool-use ids (OpenAI's tool names follow the same). */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const TOOL_USE_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const IMAGE_DATA_URL = /^data:image\/(png|jpeg|jpg|gif|webp);base64,([A-Za-z0-9+/]*={0,2})$/;

/** A JSON value as the SDK types it (parsed JSON always is one). */
export type Json = NonNullable<ToolUseBlock['input']>;

/** A 400 naming the request field (Bedrock's translations of either API shape). */
export const invalid = (param: string, why: string): never => {
  throw new InvalidRequestError(`\`${param}\` ${why}`, 'invalid_body', param);
};
/** A 400 for a field Bedrock cannot express. */
export const unsupported = (param: string, why: string): never => {
  throw new UnsupportedParameterError(param, why);
};

/** Whether a text has something to say (Bedrock rejects blank text blocks). */
export const hasText = (s: string): boolean => /\S/.test(s);

/** A role's turn while the conversation is assembled. */
interface Turn {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

/**
 * The Converse request for an OpenAI chat completion request (`stream` is the caller's business:
 * the same input serves Converse and ConverseStream). Throws a 400 naming the field it cannot express.
 */
export function toConverseRequest(body: Record<string, unknown>, modelId: string): ConverseCommandInput {
  for (const [field, value] of Object.entries(body)) {
    if (value === null || value === undefined || TRANSLATED.has(field) || IGNORED.has(field)) continue;
    const neutral = NEUTRAL.get(field);
    if (neutral) {
      if (!neutral.ok(value)) unsupported(field, neutral.why);
      continue;
    }
    unsupported(field, 'is not supported for Bedrock models');
  }
  const { system, messages, toolBlocks } = conversation(body.messages);
  const toolConfig = toolConfiguration(body.tools, body.tool_choice, toolBlocks);
  const inferenceConfig = inference(body);
  const outputConfig = responseFormat(body.response_format);
  const thinking = thinkingOf(body, modelId, inferenceConfig?.maxTokens);
  return {
    modelId,
    messages,
    ...(system.length > 0 ? { system } : {}),
    ...(inferenceConfig ? { inferenceConfig } : {}),
    ...(toolConfig ? { toolConfig } : {}),
    ...(outputConfig ? { outputConfig } : {}),
    ...(thinking ? { additionalModelRequestFields: { thinking } } : {}),
  };
}

/** LiteLLM's thinking budgets for `reasoning_effort` on Claude, in tokens (Anthropic takes 1,024 at least). */
const REASONING_BUDGETS: ReadonlyMap<unknown, number> = new Map([
  ['minimal', 1024],
  ['low', 1024],
  ['medium', 2048],
  ['high', 4096],
]);

/** Whether a Bedrock model id (a foundation model, an inference profile, or an ARN of either) is Anthropic's. */
const isClaude = (modelId: string): boolean => /(^|[.:/])anthropic\./.test(modelId);

const given = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * Claude's extended thinking (`additionalModelRequestFields.thinking`), from `reasoning_effort`
 * as LiteLLM maps it (minimal and low: 1,024 tokens, medium 2,048, high 4,096; `none`: off) or
 * from Anthropic's own `thinking` object, passed on. Thinking is output, within `max_tokens`:
 * Anthropic wants it given and above the budget, and the strict estimate bounds the call by it.
 */
function thinkingOf(body: Record<string, unknown>, modelId: string, maxTokens: number | undefined): Json | undefined {
  const { reasoning_effort: effort, thinking } = body;
  if (!given(effort) && !given(thinking)) return undefined;
  if (given(effort) && given(thinking)) invalid('reasoning_effort', 'and `thinking` are both set: give one');
  const field = given(effort) ? 'reasoning_effort' : 'thinking';
  if (!isClaude(modelId)) unsupported(field, 'is supported for Anthropic Claude models only on Bedrock');
  let config: Record<string, Json>;
  if (given(effort)) {
    if (effort === 'none') return undefined;
    const budget = REASONING_BUDGETS.get(effort);
    if (budget === undefined) return invalid('reasoning_effort', 'must be none, minimal, low, medium or high');
    config = { type: 'enabled', budget_tokens: budget };
  } else {
    if (!isObject(thinking) || typeof thinking.type !== 'string') return invalid('thinking', 'must be an object with a `type`');
    // Only what Anthropic reads of it goes on (no field the caller slips in beside them).
    config = { type: thinking.type, ...(thinking.budget_tokens !== undefined ? { budget_tokens: thinking.budget_tokens as Json } : {}) };
  }
  if (config.type === 'enabled') {
    const budget = config.budget_tokens;
    if (typeof budget !== 'number' || !Number.isSafeInteger(budget) || budget < 1024)
      invalid('thinking.budget_tokens', 'must be an integer >= 1024');
    if (maxTokens === undefined || maxTokens <= (budget as number))
      invalid('max_tokens', `must be given and above the thinking budget (${budget} tokens): thinking is part of the output`);
    thinkingCompatible(body);
  }
  return config;
}

/**
 * What Claude refuses beside thinking (Anthropic's rules), said before any upstream call: a
 * temperature other than 1, a top_p below 0.95, a forced tool choice.
 */
function thinkingCompatible(body: Record<string, unknown>): void {
  if (given(body.temperature) && body.temperature !== 1) invalid('temperature', 'must be 1 (or unset) when Claude thinks');
  if (given(body.top_p) && (typeof body.top_p !== 'number' || body.top_p < 0.95))
    invalid('top_p', 'must be from 0.95 to 1 (or unset) when Claude thinks');
  const choice = body.tool_choice;
  if (choice === 'required' || (isObject(choice) && choice.type === 'function'))
    invalid('tool_choice', 'must be auto or none when Claude thinks: it cannot be made to call a tool');
}

/**
 * An assistant message's thinking block (Anthropic's `thinking` with its signature, or
 * `redacted_thinking`), as Converse takes it; undefined for a block of another type.
 */
export function reasoningBlockOf(block: Record<string, unknown>, at: string): ContentBlock | undefined {
  if (block.type === 'thinking') {
    if (typeof block.thinking !== 'string') return invalid(`${at}.thinking`, 'must be a string');
    const signature = typeof block.signature === 'string' && block.signature.length > 0 ? { signature: block.signature } : {};
    return { reasoningContent: { reasoningText: { text: block.thinking, ...signature } } };
  }
  if (block.type === 'redacted_thinking') {
    if (typeof block.data !== 'string') return invalid(`${at}.data`, 'must be a string');
    return { reasoningContent: { redactedContent: new Uint8Array(Buffer.from(block.data, 'base64')) } };
  }
  return undefined;
}

/** A Converse reasoning block as a chat message shows it (thinking_blocks); undefined for other blocks. */
export function thinkingBlockOf(block: ContentBlock): ThinkingBlock | undefined {
  const r = block.reasoningContent;
  if (r?.reasoningText) return { type: 'thinking', thinking: r.reasoningText.text ?? '', signature: r.reasoningText.signature ?? '' };
  if (r?.redactedContent) return { type: 'redacted_thinking', data: Buffer.from(r.redactedContent).toString('base64') };
  return undefined;
}

/** An assistant message's `thinking_blocks` (LiteLLM's field), as Converse blocks. */
function thinkingBlocks(value: unknown, at: string): ContentBlock[] {
  if (!given(value)) return [];
  if (!Array.isArray(value)) return invalid(at, 'must be an array');
  return value.map((block, k) => {
    const p = `${at}[${k}]`;
    if (!isObject(block)) return invalid(p, 'must be an object');
    return reasoningBlockOf(block, p) ?? unsupported(`${p}.type`, 'must be thinking or redacted_thinking');
  });
}

function conversation(value: unknown): { system: SystemContentBlock[]; messages: Message[]; toolBlocks: boolean } {
  if (!Array.isArray(value) || value.length === 0) invalid('messages', 'must be a non-empty array');
  const system: SystemContentBlock[] = [];
  const turns: Turn[] = [];
  // Tool calls of the last assistant message that still wait for their results, by id.
  let pending = new Map<string, string>();
  let pendingFrom = -1;
  let toolBlocks = false;
  const push = (role: Turn['role'], content: ContentBlock[]) => {
    if (content.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...content);
    else turns.push({ role, content: [...content] });
  };
  const unanswered = () => {
    if (pending.size > 0)
      invalid(`messages[${pendingFrom}].tool_calls`, `has calls without a tool message answering them: ${[...pending.keys()].join(', ')}`);
  };

  (value as unknown[]).forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) return invalid(at, 'must be an object');
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      for (const text of textParts(m.content, `${at}.content`)) system.push({ text });
      return;
    }
    if (role === 'tool') {
      const id = m.tool_call_id;
      if (typeof id !== 'string') return invalid(`${at}.tool_call_id`, 'must be a string');
      if (!pending.has(id))
        return invalid(`${at}.tool_call_id`, `names no tool call of the assistant message before it (\`${short(id)}\`)`);
      pending.delete(id);
      toolBlocks = true;
      const text = textParts(m.content, `${at}.content`).join('\n');
      push('user', [{ toolResult: { toolUseId: id, content: hasText(text) ? [{ text }] : [] } }]);
      return;
    }
    unanswered();
    if (role === 'user') return push('user', userContent(m.content, `${at}.content`));
    if (role === 'assistant') {
      if (m.function_call !== undefined && m.function_call !== null)
        unsupported(`${at}.function_call`, 'is deprecated and not supported: use `tool_calls`');
      // Claude's thinking comes first in its turn, as it answered.
      const blocks: ContentBlock[] = [
        ...thinkingBlocks(m.thinking_blocks, `${at}.thinking_blocks`),
        ...(m.content === null || m.content === undefined
          ? []
          : textParts(m.content, `${at}.content`, ['text', 'refusal']).map((text) => ({ text }))),
      ];
      const calls = toolCalls(m.tool_calls, `${at}.tool_calls`);
      pending = new Map(calls.map((c) => [c.toolUseId, c.name]));
      pendingFrom = i;
      if (calls.length > 0) toolBlocks = true;
      for (const c of calls) blocks.push({ toolUse: c });
      return push('assistant', blocks);
    }
    return invalid(
      `${at}.role`,
      `must be system, developer, user, assistant or tool (got ${typeof role === 'string' ? `\`${short(role)}\`` : typeof role})`,
    );
  });
  unanswered();
  if (turns.length === 0) invalid('messages', 'hold no user or assistant content (Bedrock needs at least one non-blank message)');
  if (turns[0]?.role !== 'user') invalid('messages', 'must start with a user message (system messages aside) on Bedrock');
  return { system, messages: turns.map((t) => ({ role: t.role, content: t.content })), toolBlocks };
}

/**
 * The non-blank texts of a content that may only hold text: a string, or an array of parts of
 * the given types (`refusal` parts on assistant messages carry their text under `refusal`).
 */
function textParts(content: unknown, at: string, types: readonly string[] = ['text']): string[] {
  if (typeof content === 'string') return hasText(content) ? [content] : [];
  if (!Array.isArray(content)) return invalid(at, 'must be a string or an array of content parts');
  const out: string[] = [];
  content.forEach((part, j) => {
    const p = `${at}[${j}]`;
    if (!isObject(part)) return invalid(p, 'must be an object');
    if (typeof part.type !== 'string' || !types.includes(part.type)) return unsupported(`${p}.type`, `must be ${types.join(' or ')} here`);
    const text = part.type === 'refusal' ? part.refusal : part.text;
    if (typeof text !== 'string') return invalid(`${p}.${part.type}`, 'must be a string');
    if (hasText(text)) out.push(text);
  });
  return out;
}

function userContent(content: unknown, at: string): ContentBlock[] {
  if (typeof content === 'string') return hasText(content) ? [{ text: content }] : [];
  if (!Array.isArray(content)) return invalid(at, 'must be a string or an array of content parts');
  const out: ContentBlock[] = [];
  content.forEach((part, j) => {
    const p = `${at}[${j}]`;
    if (!isObject(part)) return invalid(p, 'must be an object');
    if (part.type === 'text') {
      if (typeof part.text !== 'string') return invalid(`${p}.text`, 'must be a string');
      if (hasText(part.text)) out.push({ text: part.text });
      return;
    }
    if (part.type === 'image_url') return out.push({ image: imageOf(part.image_url, `${p}.image_url`) });
    return unsupported(
      `${p}.type`,
      `\`${typeof part.type === 'string' ? short(part.type) : typeof part.type}\` is not supported on Bedrock (supported: text, image_url)`,
    );
  });
  return out;
}

function imageOf(value: unknown, at: string): { format: ImageFormat; source: { bytes: Uint8Array } } {
  const url = isObject(value) ? value.url : undefined;
  if (typeof url !== 'string') return invalid(`${at}.url`, 'must be a string');
  const match = IMAGE_DATA_URL.exec(url);
  if (!match) {
    if (/^https?:/i.test(url))
      return unsupported(`${at}.url`, 'is a web address; Bedrock takes images inline: send a data URL (data:image/png;base64,...)');
    return unsupported(`${at}.url`, 'must be a base64 data URL of a png, jpeg, gif or webp image');
  }
  const bytes = Buffer.from(match[2] as string, 'base64');
  if (bytes.length === 0) return invalid(`${at}.url`, 'holds an empty image');
  const format = (match[1] === 'jpg' ? 'jpeg' : match[1]) as ImageFormat;
  return { format, source: { bytes: new Uint8Array(bytes) } };
}

interface ToolUse {
  toolUseId: string;
  name: string;
  input: Json;
}

function toolCalls(value: unknown, at: string): ToolUse[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return invalid(at, 'must be an array');
  const seen = new Set<string>();
  return value.map((call, k) => {
    const p = `${at}[${k}]`;
    if (!isObject(call)) return invalid(p, 'must be an object');
    if (call.type !== 'function') return unsupported(`${p}.type`, 'must be `function` on Bedrock');
    const id = call.id;
    if (typeof id !== 'string' || !TOOL_USE_ID.test(id)) return invalid(`${p}.id`, 'must be 1-64 letters, digits, `_` or `-` on Bedrock');
    if (seen.has(id)) return invalid(`${p}.id`, `repeats the id \`${id}\``);
    seen.add(id);
    const fn = isObject(call.function) ? call.function : invalid(`${p}.function`, 'must be an object');
    const name = fn.name;
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) return invalid(`${p}.function.name`, 'must be 1-64 letters, digits, `_` or `-`');
    return { toolUseId: id, name, input: toolArguments(fn.arguments, `${p}.function.arguments`) };
  });
}

/** A tool call's arguments: a JSON object in a string (Converse takes the object itself). */
function toolArguments(value: unknown, at: string): Json {
  if (typeof value !== 'string') return invalid(at, 'must be a string holding a JSON object');
  if (!hasText(value)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return invalid(at, 'is not valid JSON');
  }
  return isObject(parsed) ? (parsed as Json) : invalid(at, 'must hold a JSON object');
}

function toolConfiguration(tools: unknown, choice: unknown, historyHasToolBlocks: boolean): ToolConfiguration | undefined {
  const specs = toolSpecs(tools);
  const names = new Set(specs.map((t) => t.toolSpec?.name));
  if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto' && specs.length === 0)
    invalid('tool_choice', 'needs `tools`');
  if (historyHasToolBlocks && specs.length === 0)
    invalid('tools', 'must declare the tools the conversation used: Bedrock refuses tool calls and results without them');
  if (specs.length === 0) return undefined;
  if (choice === undefined || choice === null || choice === 'auto') return { tools: specs };
  if (choice === 'required') return { tools: specs, toolChoice: { any: {} } };
  // Converse cannot forbid tools it was given; when the conversation holds no tool blocks, it need not be given any.
  // With tool blocks it must be (see above), and the model may still call one.
  if (choice === 'none') return historyHasToolBlocks ? { tools: specs } : undefined;
  if (isObject(choice) && choice.type === 'function') {
    const name = isObject(choice.function) ? choice.function.name : undefined;
    if (typeof name !== 'string' || !names.has(name)) return invalid('tool_choice.function.name', 'must name one of `tools`');
    return { tools: specs, toolChoice: { tool: { name } } };
  }
  return unsupported('tool_choice', 'must be `auto`, `required`, `none` or a named function on Bedrock');
}

function toolSpecs(value: unknown): Tool[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return invalid('tools', 'must be an array');
  const seen = new Set<string>();
  return value.map((tool, k): Tool => {
    const at = `tools[${k}]`;
    if (!isObject(tool)) return invalid(at, 'must be an object');
    if (tool.type !== 'function') return unsupported(`${at}.type`, 'must be `function` on Bedrock');
    const fn = isObject(tool.function) ? tool.function : invalid(`${at}.function`, 'must be an object');
    const name = fn.name;
    if (typeof name !== 'string' || !TOOL_NAME.test(name))
      return invalid(`${at}.function.name`, 'must be 1-64 letters, digits, `_` or `-`');
    if (seen.has(name)) return invalid(`${at}.function.name`, `repeats the tool \`${name}\``);
    seen.add(name);
    const description = fn.description;
    if (description !== undefined && description !== null && typeof description !== 'string')
      return invalid(`${at}.function.description`, 'must be a string');
    const parameters = fn.parameters ?? { type: 'object', properties: {} };
    if (!isObject(parameters)) return invalid(`${at}.function.parameters`, 'must be a JSON schema object');
    const strict = fn.strict;
    if (strict !== undefined && strict !== null && typeof strict !== 'boolean')
      return invalid(`${at}.function.strict`, 'must be a boolean');
    return {
      toolSpec: {
        name,
        ...(typeof description === 'string' && description.length > 0 ? { description } : {}),
        inputSchema: { json: parameters as Json },
        ...(typeof strict === 'boolean' ? { strict } : {}),
      },
    };
  });
}

/** `temperature` and `top_p` into an inference configuration: Bedrock takes each from 0 to 1 (both API shapes name them so). */
export function sampling(body: Record<string, unknown>, config: InferenceConfiguration): void {
  for (const [field, key] of [
    ['temperature', 'temperature'],
    ['top_p', 'topP'],
  ] as const) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) invalid(field, 'must be a number from 0 to 1 on Bedrock');
    config[key] = v as number;
  }
}

function inference(body: Record<string, unknown>): InferenceConfiguration | undefined {
  const config: InferenceConfiguration = {};
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (limit !== undefined && limit !== null) {
    const field = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) invalid(field, 'must be an integer >= 1');
    config.maxTokens = limit as number;
  }
  sampling(body, config);
  const stop = body.stop;
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length === 0))
      invalid('stop', 'must be a non-empty string or an array of them');
    if ((list as string[]).length > 0) config.stopSequences = [...(list as string[])];
  }
  return Object.keys(config).length > 0 ? config : undefined;
}

function responseFormat(value: unknown): OutputConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return invalid('response_format', 'must be an object');
  if (value.type === 'text') return undefined;
  if (value.type === 'json_object')
    return { textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: '{"type":"object"}', name: 'json_object' } } } };
  if (value.type === 'json_schema') {
    const spec = isObject(value.json_schema) ? value.json_schema : invalid('response_format.json_schema', 'must be an object');
    if (typeof spec.name !== 'string' || spec.name.length === 0) invalid('response_format.json_schema.name', 'must be a non-empty string');
    const schema = spec.schema ?? { type: 'object' };
    if (!isObject(schema)) invalid('response_format.json_schema.schema', 'must be a JSON schema object');
    const description = typeof spec.description === 'string' && spec.description.length > 0 ? { description: spec.description } : {};
    return {
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { schema: JSON.stringify(schema), name: spec.name as string, ...description } },
      },
    };
  }
  return unsupported('response_format.type', 'must be text, json_object or json_schema');
}

const short = (s: string): string => (s.length > 64 ? `${s.slice(0, 63)}…` : s);

// ---------------------------------------------------------------------------------------------
// Response

const FINISH: Readonly<Record<StopReason, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  content_filtered: 'content_filter',
  guardrail_intervened: 'content_filter',
  malformed_model_output: 'stop',
  malformed_tool_use: 'stop',
};

/** OpenAI's finish_reason for Bedrock's stopReason (an unknown one reads as a plain stop). */
export const finishReasonOf = (reason: string | undefined): FinishReason =>
  reason !== undefined && Object.hasOwn(FINISH, reason) ? FINISH[reason as StopReason] : 'stop';

/**
 * Bedrock's usage in Tollgate's split (Converse's inputTokens exclude cache reads and writes);
 * undefined when it gives no input or output count, or any figure that is not a token count (the
 * call is then counted, not billed as 0 tokens).
 */
export function usageOfConverse(u: BedrockTokenUsage | undefined): TokenUsage | undefined {
  if (!u) return undefined;
  const figures = [u.inputTokens, u.outputTokens, u.cacheReadInputTokens, u.cacheWriteInputTokens] as unknown[];
  if (figures.some(badFigure)) return undefined;
  if (tokens(u.inputTokens) === undefined && tokens(u.outputTokens) === undefined) return undefined;
  const writes = tokens(u.cacheWriteInputTokens) ?? 0;
  // Writes for an hour (`cacheDetails` by TTL) are priced apart, as Anthropic's are.
  const hour = Math.min(
    (u.cacheDetails ?? []).reduce((n, d) => n + (d?.ttl === '1h' ? (tokens(d.inputTokens) ?? 0) : 0), 0),
    writes,
  );
  return {
    inputTokens: tokens(u.inputTokens) ?? 0,
    outputTokens: tokens(u.outputTokens) ?? 0,
    cacheReadTokens: tokens(u.cacheReadInputTokens) ?? 0,
    cacheWriteTokens: writes,
    ...(hour > 0 ? { cacheWrite1hTokens: hour } : {}),
  };
}

/** OpenAI's usage object: `prompt_tokens` count every input token, cached ones included. */
export function chatUsage(u: TokenUsage): ChatUsage {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cacheReadTokens,
  };
}

/** The chat completion for a Converse answer, with its usage (undefined when Bedrock reported none). */
export function fromConverseResponse(
  out: Pick<ConverseCommandOutput, 'output' | 'stopReason' | 'usage'>,
  ctx: AnswerContext,
): { body: ChatCompletion; usage: TokenUsage | undefined } {
  const texts: string[] = [];
  const reasoning: string[] = [];
  const thoughts: ThinkingBlock[] = [];
  const calls: ChatToolCall[] = [];
  for (const block of out.output?.message?.content ?? []) {
    const thought = thinkingBlockOf(block);
    if (thought) thoughts.push(thought);
    if (typeof block.text === 'string') texts.push(block.text);
    else if (block.toolUse) {
      calls.push({
        id: block.toolUse.toolUseId ?? '',
        type: 'function',
        function: { name: block.toolUse.name ?? '', arguments: JSON.stringify(block.toolUse.input ?? {}) },
      });
    } else if (typeof block.reasoningContent?.reasoningText?.text === 'string') reasoning.push(block.reasoningContent.reasoningText.text);
  }
  const usage = usageOfConverse(out.usage);
  const text = texts.join('');
  return {
    body: {
      id: ctx.id,
      object: 'chat.completion',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: text.length > 0 || calls.length === 0 ? text : null,
            refusal: null,
            ...(calls.length > 0 ? { tool_calls: calls } : {}),
            ...(reasoning.length > 0 ? { reasoning_content: reasoning.join('') } : {}),
            ...(thoughts.length > 0 ? { thinking_blocks: thoughts } : {}),
          },
          logprobs: null,
          finish_reason: finishReasonOf(out.stopReason),
        },
      ],
      usage: chatUsage(usage ?? { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }),
    },
    usage,
  };
}
