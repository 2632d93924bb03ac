/**
 * Counting tokens when the upstream reports no usable usage (none, malformed, or a stream cut
 * before its usage event): the text that was sent and the text that came back, counted with
 * gpt-tokenizer's o200k_base encoding (the GPT-4o/o-series tokenizer; a maintained library on npm,
 * pure JavaScript, no native code). It is a count of the text, not of the upstream's own
 * tokenizer or chat template; it is charged as `usage_source: counted`. When there is no text to
 * count (a raw or multipart body, an answer with no text), the strict estimate is charged instead.
 *
 * The tokenizer's tables are about 2 MB: they are loaded on first use, so an instance whose
 * upstreams report usage never pays for them.
 */
import type { ToolTokens, Usage } from '../domain/cost.js';
import { isObject } from '../domain/json.js';
import { containerOfItem, isFileSearchItem, isWebSearchItem, serviceTierOfPayload } from '../providers/usage.js';
import { type LlmRequest, toolsOfType } from './request.js';

/** Fields whose strings are text a model writes (answers and stream deltas, every API shape). */
const ANSWER_KEYS: ReadonlySet<string> = new Set([
  'content',
  'text',
  'arguments',
  'refusal',
  'reasoning_content',
  // Extended thinking (Anthropic's `thinking` blocks and `thinking_delta`s, Claude on Bedrock) and
  // the `reasoning` delta of OpenRouter-, vLLM- and LiteLLM-style streams: output tokens too.
  'thinking',
  'reasoning',
  // The Assistants API's message text (`content[].text.value`, its deltas too).
  'value',
  'output_text',
  'delta',
  'partial_json',
]);
/** And those it reads (requests). */
const REQUEST_KEYS: ReadonlySet<string> = new Set([...ANSWER_KEYS, 'prompt', 'input', 'instructions', 'system']);

function collect(v: unknown, keys: ReadonlySet<string>, isText: boolean, out: string[]): void {
  if (typeof v === 'string') {
    if (isText) out.push(v);
  } else if (Array.isArray(v)) {
    for (const e of v) collect(e, keys, isText, out);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, e] of Object.entries(v)) collect(e, keys, keys.has(k), out);
  }
}

/**
 * The image output tokens of one image the image generation tool makes, by quality and size
 * (OpenAI's table for its gpt-image models), and what each partial image a stream sends adds.
 */
const IMAGE_OUTPUT_TOKENS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
export const PARTIAL_IMAGE_TOKENS = 100;

/** What an image says (or its tool asks) of its quality and size. */
interface ImageShape {
  quality?: unknown;
  size?: unknown;
}

/** Whether OpenAI's table prices a quality or size (`auto` included: the dearest it may be). */
export const inImageTable = (v: unknown): boolean =>
  typeof v === 'string' && (v === 'auto' || v in IMAGE_OUTPUT_TOKENS || Object.values(IMAGE_OUTPUT_TOKENS).some((sizes) => v in sizes));

/**
 * One image's output tokens: its quality and size as the item says, else as its tool asked; one
 * not known (`auto`, absent, a model's own) is the dearest it can be, never less than was made.
 */
export function imageOutputTokens(item: ImageShape, tool: ImageShape = {}): number {
  const pick = (v: unknown, known: readonly string[]) => (typeof v === 'string' && known.includes(v) ? [v] : known);
  const qualities = pick(item.quality ?? tool.quality, Object.keys(IMAGE_OUTPUT_TOKENS));
  let most = 0;
  for (const q of qualities) {
    const sizes = IMAGE_OUTPUT_TOKENS[q] as Readonly<Record<string, number>>;
    for (const size of pick(item.size ?? tool.size, Object.keys(sizes))) most = Math.max(most, sizes[size] ?? 0);
  }
  return most;
}

const isImageItem = (v: unknown): v is Record<string, unknown> & ImageShape => isObject(v) && v.type === 'image_generation_call';

/** The text of an answer as it arrives: the whole JSON answer, or each stream event in turn. */
export class ReceivedText {
  private readonly parts: string[] = [];
  /**
   * Web searches the answer shows started: Anthropic's `server_tool_use` blocks named
   * `web_search`, the Responses API's `web_search_call` items. A stream cut before its usage
   * (Anthropic reports the count in its last event) is still charged the searches it ran.
   */
  searches = 0;
  /** File search calls the answer shows started: the Responses API's `file_search_call` items, charged as searches are. */
  fileSearches = 0;
  /**
   * The service tier the answer reports, in whichever event says it (OpenAI's chat chunks each
   * do, its usage chunk too): a priority stream cut before its usage is charged at priority.
   */
  serviceTier: string | undefined;
  /**
   * Images the image generation tool made, by item id, as the answer last showed them (a stream's
   * item when it starts, then whole when done): a stream cut before its usage is charged them.
   */
  readonly images = new Map<string, ImageShape>();
  /** Partial images a stream sent (each is image output tokens of its own). */
  partialImages = 0;
  /**
   * The containers the answer shows the code interpreter ran in (its `code_interpreter_call`
   * items' `container_id`): those made for the call are billed as sessions (lib/llm/containers).
   */
  readonly containers = new Set<string>();
  /** The response the answer is (a Responses answer's `id`, a stream's `response.id`): the one its new containers were made in. */
  responseId: string | undefined;

  /** A whole (JSON) answer. */
  add(payload: unknown): void {
    collect(payload, ANSWER_KEYS, false, this.parts);
    if (!isObject(payload)) return;
    this.noteTier(payload);
    // Read as the record of its containers reads it (lib/llm/objects madeInside): the answer's `id`.
    if (Array.isArray(payload.output) && typeof payload.id === 'string') this.responseId = payload.id;
    for (const item of [payload.content, payload.output].flatMap((list) => (Array.isArray(list) ? list : []))) {
      if (isWebSearchItem(item)) this.searches++;
      if (isFileSearchItem(item)) this.fileSearches++;
      this.noteImage(item);
      this.noteContainer(item);
    }
  }

  /**
   * A stream event: only what it adds (`choices[].delta`/`text`, a `delta`), since events that
   * close a stream (`response.output_text.done`, `response.completed`) repeat the whole text.
   * A search (web or file) is counted when its block or item starts (its `.done` event repeats it).
   */
  addEvent(payload: unknown): void {
    if (!isObject(payload)) return;
    this.noteTier(payload);
    if (Array.isArray(payload.choices)) collect(payload.choices, ANSWER_KEYS, false, this.parts);
    else if (payload.delta !== undefined) collect(payload.delta, ANSWER_KEYS, true, this.parts);
    if (
      (payload.type === 'content_block_start' && isWebSearchItem(payload.content_block)) ||
      (payload.type === 'response.output_item.added' && isWebSearchItem(payload.item))
    )
      this.searches++;
    if (payload.type === 'response.output_item.added' && isFileSearchItem(payload.item)) this.fileSearches++;
    if (payload.type === 'response.output_item.added' || payload.type === 'response.output_item.done') {
      this.noteImage(payload.item);
      this.noteContainer(payload.item);
    }
    if (payload.type === 'response.image_generation_call.partial_image') this.partialImages++;
    // The response whole (created, completed, incomplete): its id, and the containers its output shows
    // (an upstream may show them only there).
    if (isObject(payload.response)) {
      if (typeof payload.response.id === 'string') this.responseId = payload.response.id;
      if (Array.isArray(payload.response.output)) for (const item of payload.response.output) this.noteContainer(item);
    }
  }

  private noteContainer(item: unknown): void {
    const container = containerOfItem(item);
    if (container) this.containers.add(container);
  }

  /** An image item (not one that failed): the latest showing of it. */
  private noteImage(item: unknown): void {
    if (!isImageItem(item) || item.status === 'failed') return;
    const id = typeof item.id === 'string' ? item.id : `#${this.images.size}`;
    this.images.set(id, { quality: item.quality, size: item.size });
  }

  private noteTier(payload: Record<string, unknown>): void {
    this.serviceTier = serviceTierOfPayload(payload) ?? this.serviceTier;
  }

  get text(): string {
    return this.parts.join('');
  }
}

/** The text a request sent (a JSON body's text fields); undefined when its body is not JSON. */
export function sentText(req: Pick<LlmRequest, 'body'>): string | undefined {
  if (req.body.kind !== 'json') return undefined;
  const out: string[] = [];
  collect(req.body.value, REQUEST_KEYS, false, out);
  return out.join('\n');
}

let tokenizer: Promise<(text: string) => number> | undefined;
const countTokens = async (text: string): Promise<number> => {
  tokenizer ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => m.countTokens);
  return text.length === 0 ? 0 : (await tokenizer)(text);
};

/**
 * The image generation tool's output an answer showed, as its image model's tokens (found by
 * review: a stream cut before `response.completed` was charged no image): each image at its
 * quality and size (else its tool's, else the dearest), each partial image at 100 tokens.
 */
function imagesMade(req: Pick<LlmRequest, 'body'>, received: ReceivedText | undefined): ToolTokens | undefined {
  if (!received || received.images.size + received.partialImages === 0) return undefined;
  const asked = toolsOfType(req.body.kind === 'json' ? req.body.value : undefined, 'image_generation');
  // Several image tools: each image is charged as the dearest of them would make it.
  const tokensOf = (image: ImageShape) => Math.max(...(asked.length > 0 ? asked : [{}]).map((tool) => imageOutputTokens(image, tool)));
  let tokens = received.partialImages * PARTIAL_IMAGE_TOKENS;
  for (const image of received.images.values()) tokens += tokensOf(image);
  return { inputTokens: 0, outputTokens: tokens, imageOutputTokens: tokens };
}

/** The usage counted from the text sent and received, or undefined when there is none to count. */
export async function countUsage(req: Pick<LlmRequest, 'body'>, received: ReceivedText | undefined): Promise<Usage | undefined> {
  const sent = sentText(req);
  if (sent === undefined) return undefined;
  const usage = { inputTokens: await countTokens(sent), outputTokens: await countTokens(received?.text ?? '') };
  const searches = received?.searches ?? 0;
  const fileSearches = received?.fileSearches ?? 0;
  const imageGen = imagesMade(req, received);
  const tier = received?.serviceTier;
  return usage.inputTokens + usage.outputTokens + searches + fileSearches + (imageGen?.outputTokens ?? 0) > 0
    ? {
        ...usage,
        ...(searches > 0 ? { webSearches: searches } : {}),
        ...(fileSearches > 0 ? { fileSearches } : {}),
        ...(imageGen ? { imageGen } : {}),
        ...(tier ? { serviceTier: tier } : {}),
      }
    : undefined;
}
