/**
 * Hand-written validation of `POST /v1/messages` and `/v1/messages/count_tokens` bodies.
 *
 * One walk over the request, no schema library and no copies: the parsed body is returned as is
 * once it has the shape the converter relies on. Errors name the field the way Anthropic's API
 * does (`messages.2.content.0.type: Input should be …`). Unknown fields are ignored and the
 * optional features Claude Code uses (mid-conversation `role: "system"`, adaptive thinking,
 * `context_management`, `output_config`, `cache_control`, server tools) are accepted.
 */
import type { CountTokensRequest, MessagesRequest } from './types.js';
import { InvalidRequestError } from '../errors.js';

type Obj = Record<string, unknown>;

const REQUIRED = 'Field required';
const STRING = 'Input should be a valid string';
const INTEGER = 'Input should be a valid integer';
const NUMBER = 'Input should be a valid number';
const BOOLEAN = 'Input should be a valid boolean';
const DICT = 'Input should be a valid dictionary';
const LIST = 'Input should be a valid list';

/** Block types accepted in user turns; anything else there is a client bug worth reporting. */
const USER_BLOCK_TYPES = ['text', 'image', 'document', 'search_result', 'tool_result', 'container_upload'] as const;
/** Block types accepted in assistant turns (incl. server-tool blocks echoed back by clients). */
const ASSISTANT_BLOCK_TYPES = [
  'text',
  'thinking',
  'redacted_thinking',
  'tool_use',
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'mcp_tool_use',
  'mcp_tool_result',
  'container_upload',
] as const;
const SYSTEM_BLOCK_TYPES = ['text'] as const;
const ROLES = ['user', 'assistant', 'system'] as const;
const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;
const IMAGE_SOURCE_TYPES = ['base64', 'url', 'file'] as const;

const USER_TYPES: ReadonlySet<string> = new Set(USER_BLOCK_TYPES);
const ASSISTANT_TYPES: ReadonlySet<string> = new Set(ASSISTANT_BLOCK_TYPES);
const SYSTEM_TYPES: ReadonlySet<string> = new Set(SYSTEM_BLOCK_TYPES);

function fail(path: string, message: string): never {
  throw new InvalidRequestError(`${path}: ${message}`);
}

/** Pydantic-style enumeration: `'a', 'b' or 'c'`. */
function oneOf(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length === 1) return `Input should be ${quoted[0]}`;
  return `Input should be ${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(v: unknown, path: string): void {
  if (typeof v !== 'string') fail(path, v === undefined ? REQUIRED : STRING);
}

function optionalString(v: unknown, path: string): void {
  if (v != null && typeof v !== 'string') fail(path, STRING);
}

function optionalBoolean(v: unknown, path: string): void {
  if (v != null && typeof v !== 'boolean') fail(path, BOOLEAN);
}

function optionalNumber(v: unknown, path: string): void {
  if (v != null && (typeof v !== 'number' || !Number.isFinite(v))) fail(path, NUMBER);
}

function optionalInteger(v: unknown, path: string): void {
  if (v != null && !Number.isInteger(v)) fail(path, INTEGER);
}

function optionalObject(v: unknown, path: string): void {
  if (v != null && !isObj(v)) fail(path, DICT);
}

function checkImageSource(source: unknown, path: string): void {
  if (source === undefined) fail(path, REQUIRED);
  if (!isObj(source)) fail(path, DICT);
  const type = source.type;
  if (type === 'base64') {
    requireString(source.media_type, `${path}.media_type`);
    if (!(IMAGE_MEDIA_TYPES as readonly string[]).includes(source.media_type as string)) {
      fail(`${path}.media_type`, oneOf(IMAGE_MEDIA_TYPES));
    }
    requireString(source.data, `${path}.data`);
  } else if (type === 'url') {
    requireString(source.url, `${path}.url`);
  } else if (type === 'file') {
    requireString(source.file_id, `${path}.file_id`);
  } else {
    fail(`${path}.type`, type === undefined ? REQUIRED : oneOf(IMAGE_SOURCE_TYPES));
  }
}

function checkToolResultContent(content: unknown, path: string): void {
  if (content == null || typeof content === 'string') return;
  if (!Array.isArray(content)) fail(path, 'Input should be a valid string or a list of content blocks');
  for (let k = 0; k < content.length; k++) {
    const item: unknown = content[k];
    if (!isObj(item)) fail(`${path}.${k}`, DICT);
    requireString(item.type, `${path}.${k}.type`);
    if (item.type === 'text') requireString(item.text, `${path}.${k}.text`);
    else if (item.type === 'image') checkImageSource(item.source, `${path}.${k}.source`);
  }
}

/** Checks one content block of `messages.i.content.j` (path built only on failure). */
function checkBlock(block: unknown, allowed: ReadonlySet<string>, allowedList: readonly string[], i: number, j: number): void {
  const at = (field?: string) => `messages.${i}.content.${j}${field ? `.${field}` : ''}`;
  if (!isObj(block)) fail(at(), DICT);
  const type = block.type;
  if (typeof type !== 'string') fail(at('type'), type === undefined ? REQUIRED : STRING);
  if (!allowed.has(type)) fail(at('type'), oneOf(allowedList));
  if (block.cache_control != null && !isObj(block.cache_control)) fail(at('cache_control'), DICT);
  switch (type) {
    case 'text':
      requireString(block.text, at('text'));
      break;
    case 'image':
      checkImageSource(block.source, at('source'));
      break;
    case 'tool_use':
      requireString(block.id, at('id'));
      requireString(block.name, at('name'));
      optionalObject(block.input, at('input'));
      break;
    case 'tool_result':
      requireString(block.tool_use_id, at('tool_use_id'));
      checkToolResultContent(block.content, at('content'));
      optionalBoolean(block.is_error, at('is_error'));
      break;
    case 'thinking':
      requireString(block.thinking, at('thinking'));
      optionalString(block.signature, at('signature'));
      break;
    case 'redacted_thinking':
      requireString(block.data, at('data'));
      break;
  }
}

function checkMessages(messages: unknown): void {
  if (messages === undefined) fail('messages', REQUIRED);
  if (!Array.isArray(messages)) fail('messages', LIST);
  if (messages.length === 0) fail('messages', 'at least one message is required');
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObj(m)) fail(`messages.${i}`, DICT);
    const role = m.role;
    let allowed: ReadonlySet<string>;
    let allowedList: readonly string[];
    if (role === 'user') {
      allowed = USER_TYPES;
      allowedList = USER_BLOCK_TYPES;
    } else if (role === 'assistant') {
      allowed = ASSISTANT_TYPES;
      allowedList = ASSISTANT_BLOCK_TYPES;
    } else if (role === 'system') {
      allowed = SYSTEM_TYPES;
      allowedList = SYSTEM_BLOCK_TYPES;
    } else {
      fail(`messages.${i}.role`, role === undefined ? REQUIRED : oneOf(ROLES));
    }
    const content = m.content;
    if (typeof content === 'string') continue;
    if (content === undefined) fail(`messages.${i}.content`, REQUIRED);
    if (!Array.isArray(content)) fail(`messages.${i}.content`, 'Input should be a valid string or a list of content blocks');
    for (let j = 0; j < content.length; j++) checkBlock(content[j], allowed, allowedList, i, j);
  }
}

function checkSystem(system: unknown): void {
  if (system == null || typeof system === 'string') return;
  if (!Array.isArray(system)) fail('system', 'Input should be a valid string or a list of text blocks');
  for (let k = 0; k < system.length; k++) {
    const block: unknown = system[k];
    if (!isObj(block)) fail(`system.${k}`, DICT);
    if (block.type !== 'text') fail(`system.${k}.type`, block.type === undefined ? REQUIRED : oneOf(SYSTEM_BLOCK_TYPES));
    requireString(block.text, `system.${k}.text`);
  }
}

function checkTools(tools: unknown): void {
  if (tools == null) return;
  if (!Array.isArray(tools)) fail('tools', LIST);
  for (let k = 0; k < tools.length; k++) {
    const tool: unknown = tools[k];
    if (!isObj(tool)) fail(`tools.${k}`, DICT);
    requireString(tool.name, `tools.${k}.name`);
    if (tool.name === '') fail(`tools.${k}.name`, 'String should have at least 1 character');
    optionalString(tool.type, `tools.${k}.type`);
    optionalString(tool.description, `tools.${k}.description`);
    // null/absent schemas are tolerated: the converter substitutes an empty object schema.
    optionalObject(tool.input_schema, `tools.${k}.input_schema`);
  }
}

function checkThinking(thinking: unknown): void {
  if (thinking == null) return;
  if (!isObj(thinking)) fail('thinking', DICT);
  // Any string type is accepted so future modes do not break clients; the converter treats
  // types other than enabled/adaptive as "off".
  requireString(thinking.type, 'thinking.type');
  optionalInteger(thinking.budget_tokens, 'thinking.budget_tokens');
}

function checkModel(model: unknown): void {
  requireString(model, 'model');
  if (model === '') fail('model', 'String should have at least 1 character');
}

function checkRoot(body: unknown): asserts body is Obj {
  if (!isObj(body)) throw new InvalidRequestError(`request body: ${DICT}`);
}

/**
 * Validates a `POST /v1/messages` body and returns it typed (same object, not a copy).
 * @throws InvalidRequestError naming the first offending field, e.g. `max_tokens: Field required`.
 */
export function validateMessagesRequest(body: unknown): MessagesRequest {
  checkRoot(body);
  checkModel(body.model);
  if (body.max_tokens === undefined) fail('max_tokens', REQUIRED);
  if (!Number.isInteger(body.max_tokens)) fail('max_tokens', INTEGER);
  if ((body.max_tokens as number) < 1) fail('max_tokens', 'Input should be greater than or equal to 1');
  checkMessages(body.messages);
  checkSystem(body.system);
  checkTools(body.tools);
  checkThinking(body.thinking);
  optionalBoolean(body.stream, 'stream');
  optionalNumber(body.temperature, 'temperature');
  optionalNumber(body.top_p, 'top_p');
  optionalInteger(body.top_k, 'top_k');
  if (body.stop_sequences != null) {
    if (!Array.isArray(body.stop_sequences)) fail('stop_sequences', LIST);
    body.stop_sequences.forEach((s: unknown, k: number) => requireString(s, `stop_sequences.${k}`));
  }
  optionalObject(body.metadata, 'metadata');
  if (isObj(body.metadata)) optionalString(body.metadata.user_id, 'metadata.user_id');
  optionalObject(body.output_config, 'output_config');
  if (isObj(body.output_config)) optionalString(body.output_config.effort, 'output_config.effort');
  return body as unknown as MessagesRequest;
}

/**
 * Validates a `POST /v1/messages/count_tokens` body (`max_tokens` not required).
 * @throws InvalidRequestError naming the first offending field.
 */
export function validateCountTokensRequest(body: unknown): CountTokensRequest {
  checkRoot(body);
  checkModel(body.model);
  checkMessages(body.messages);
  checkSystem(body.system);
  checkTools(body.tools);
  checkThinking(body.thinking);
  return body as unknown as CountTokensRequest;
}
