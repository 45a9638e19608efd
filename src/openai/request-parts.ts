/**
 * The pieces both OpenAI request mappings (chat-request.ts, responses-request.ts) share: the request's
 * common fields, images, function tools and tool choice, tool-call arguments, reasoning effort, and
 * the system prompt gathered from system/developer messages. Each returns Anthropic request pieces,
 * so the rest of the gateway sees one request type.
 */
import type { ImageBlock, MessageParam, MessagesRequest, ToolParam } from '../anthropic/types.js';
import { exceedsJsonDepth, MAX_TOOL_INPUT_DEPTH } from '../http/json-depth.js';
import {
  fail,
  isObj,
  optionalBoolean,
  optionalEnum,
  optionalNumber,
  optionalString,
  requireArray,
  requireNonEmptyString,
  requireObject,
  unsupported,
  type Obj,
} from './fields.js';

/**
 * `max_tokens` of the Anthropic request when the client sets no limit. Kiro takes no output limit
 * (the Messages route does not send one either), so this only completes the request type.
 */
const DEFAULT_MAX_TOKENS = 32_000;

/**
 * The fields both APIs spell alike, as the Anthropic request: the model, the output limit (absent:
 * {@link DEFAULT_MAX_TOKENS}), the conversation (`messagesParam` names it in errors) with its system
 * prompt, `stream`, `temperature` and `top_p`, checked in that order.
 */
export function baseRequest(body: Obj, model: string, maxTokens: number | undefined, conv: Conversation, messagesParam: string): MessagesRequest {
  const request: MessagesRequest = { model, max_tokens: maxTokens ?? DEFAULT_MAX_TOKENS, messages: conv.checkedMessages(messagesParam) };
  const system = conv.systemPrompt;
  if (system !== undefined) request.system = system;
  if (optionalBoolean(body.stream, 'stream')) request.stream = true;
  const temperature = optionalNumber(body.temperature, 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = optionalNumber(body.top_p, 'top_p');
  if (topP !== undefined) request.top_p = topP;
  return request;
}

/** The image types Kiro takes; `image/jpg` is a common misspelling of the first. */
const IMAGE_MEDIA_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/png': 'image/png',
  'image/gif': 'image/gif',
  'image/webp': 'image/webp',
};

/**
 * An image given by URL: a base64 `data:` URL becomes an image block. Remote (http/https) URLs are
 * refused: fetching them would let any client make the gateway call any address it can reach
 * (internal services included), and Kiro itself takes image bytes only.
 */
export function imageFromUrl(url: string, param: string): ImageBlock {
  if (/^https?:\/\//i.test(url)) {
    fail(param, 'remote image URLs are not fetched by this gateway: send the image inline as a data URL (data:image/png;base64,…)', 'unsupported_value');
  }
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) fail(param, 'expected a data URL (data:image/png;base64,…)');
  const [mediaType = '', ...attributes] = url.slice(5, comma).split(';');
  if (!attributes.includes('base64')) fail(param, 'expected a base64 data URL (data:image/png;base64,…)');
  const media = IMAGE_MEDIA_TYPES[mediaType.toLowerCase()];
  if (!media) fail(param, `image type '${mediaType.slice(0, 40)}' is not supported: use image/jpeg, image/png, image/gif or image/webp`, 'unsupported_value');
  const data = url.slice(comma + 1);
  if (data === '') fail(param, 'the data URL holds no image');
  return { type: 'image', source: { type: 'base64', media_type: media, data } };
}

/** A function tool's definition (the Chat API nests it under `function`, the Responses API does not). */
function functionTool(def: Obj, param: string): ToolParam {
  const name = requireNonEmptyString(def.name, `${param}.name`);
  const description = optionalString(def.description, `${param}.description`);
  const parameters = def.parameters == null ? undefined : requireObject(def.parameters, `${param}.parameters`);
  const tool: ToolParam = { name, input_schema: parameters ?? { type: 'object', properties: {} } };
  if (description !== undefined) tool.description = description;
  return tool;
}

/**
 * The request's `tools`, function tools only; each definition is nested under `function` in the
 * Chat API (`nested`), not in the Responses API.
 */
export function functionTools(value: unknown, nested: boolean): ToolParam[] | undefined {
  if (value == null) return undefined;
  return requireArray(value, 'tools').map((tool, k) => {
    const t = requireObject(tool, `tools[${k}]`);
    if (t.type !== 'function') unsupported(`tools[${k}].type`, `tools of type '${String(t.type).slice(0, 40)}' (only function tools)`);
    return nested ? functionTool(requireObject(t.function, `tools[${k}].function`), `tools[${k}].function`) : functionTool(t, `tools[${k}]`);
  });
}

/**
 * The arguments of a tool call the client sends back in its history: a JSON object in a string.
 * Parsed here, so its depth is checked here too (the body's check saw only a string).
 */
export function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail(param, 'expected the JSON text of an object (the arguments of the call)');
  }
  if (!isObj(value)) fail(param, 'expected the JSON text of an object (the arguments of the call)');
  if (exceedsJsonDepth(value, MAX_TOOL_INPUT_DEPTH)) fail(param, `nests JSON more than ${MAX_TOOL_INPUT_DEPTH} levels deep (the limit)`);
  return value;
}

/**
 * What a `tool_choice` does to the request: `none` removes the tools, the rest is recorded as
 * Anthropic's. A named function is `{type, function: {name}}` in the Chat API (`nested`), `{type, name}`
 * in the Responses API.
 */
export function applyToolChoice(request: MessagesRequest, choice: unknown, param: string, nested: boolean): void {
  if (choice == null || choice === 'auto') return;
  if (choice === 'none') {
    // Kiro has no tool choice: a model that is offered no tools cannot call one.
    delete request.tools;
    return;
  }
  if (choice === 'required') {
    request.tool_choice = { type: 'any' };
    return;
  }
  if (isObj(choice) && choice.type === 'function') {
    const name = nested ? requireObject(choice.function, `${param}.function`).name : choice.name;
    request.tool_choice = { type: 'tool', name: requireNonEmptyString(name, nested ? `${param}.function.name` : `${param}.name`) };
    return;
  }
  if (typeof choice === 'string') fail(param, `expected 'none', 'auto', 'required' or a function, got '${choice.slice(0, 40)}'`);
  if (isObj(choice) && typeof choice.type === 'string') unsupported(`${param}.type`, `tool_choice of type '${choice.type.slice(0, 40)}' (only function tools)`);
  fail(param, "expected 'none', 'auto', 'required' or a function");
}

const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
type Effort = (typeof EFFORTS)[number];

/**
 * Reasoning effort as thinking: a budget for models that take one, an effort level for those that
 * think adaptively only (the converter picks per model); `none` turns thinking off.
 */
const THINKING: Record<Exclude<Effort, 'none'>, { budget: number; effort: string }> = {
  minimal: { budget: 1_024, effort: 'low' },
  low: { budget: 4_096, effort: 'low' },
  medium: { budget: 10_000, effort: 'medium' },
  high: { budget: 20_000, effort: 'high' },
  xhigh: { budget: 24_576, effort: 'high' },
};

/** Sets the request's thinking from a reasoning effort (absent: the model's default). */
export function applyReasoningEffort(request: MessagesRequest, value: unknown, param: string): void {
  const effort = optionalEnum(value, param, EFFORTS);
  if (effort === undefined) return;
  if (effort === 'none') {
    request.thinking = { type: 'disabled' };
    return;
  }
  const { budget, effort: level } = THINKING[effort];
  request.thinking = { type: 'enabled', budget_tokens: budget };
  request.output_config = { effort: level };
}

/**
 * The conversation as Anthropic messages: system and developer messages before the first other
 * message form the system prompt; later ones stay in place as `role: "system"` messages (Kiro
 * has no system role: they reach it as user text, as on the Messages route).
 */
export class Conversation {
  private readonly systemTexts: string[] = [];
  readonly messages: MessageParam[] = [];

  system(text: string): void {
    if (this.messages.length === 0) this.systemTexts.push(text);
    else this.messages.push({ role: 'system', content: text });
  }

  add(message: MessageParam): void {
    this.messages.push(message);
  }

  /** The system prompt, if any system text came before the conversation. */
  get systemPrompt(): string | undefined {
    return this.systemTexts.length > 0 ? this.systemTexts.join('\n\n') : undefined;
  }

  /** The request's messages; a conversation of system text only is a client error. */
  checkedMessages(param: string): MessageParam[] {
    if (!this.messages.some((m) => m.role !== 'system')) fail(param, 'expected at least one user, assistant or tool message');
    return this.messages;
  }
}
