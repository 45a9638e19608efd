/**
 * `POST /v1/chat/completions` body → the Anthropic Messages request the pipeline runs. Checked while
 * mapped, so every 400 names the OpenAI field. What Kiro cannot honour is refused with the reason
 * (README, "OpenAI-compatible API"); what it has no field for is accepted and not enforced, as on the
 * Messages route (sampling parameters, stop sequences, output limits).
 */
import type { ContentBlockParam, MessagesRequest, ToolResultBlock } from '../anthropic/types.js';
import {
  fail,
  isObj,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalString,
  requireArray,
  requireNonEmptyString,
  requireObject,
  requireString,
  unsupported,
  type Obj,
} from './fields.js';
import { applyReasoningEffort, applyToolChoice, baseRequest, Conversation, functionTools, imageFromUrl, parseArguments } from './request-parts.js';

/** A Chat Completions request as the pipeline takes it, and what its answer needs. */
export interface ChatRequest {
  request: MessagesRequest;
  /** `stream_options.include_usage`: a last chunk with the usage and no choices. */
  includeUsage: boolean;
}

/** Fields that ask for what Kiro cannot do; refused rather than silently ignored. */
const REFUSED: Readonly<Record<string, string>> = {
  audio: 'audio output',
  functions: 'the deprecated functions field: use tools',
  function_call: 'the deprecated function_call field: use tool_choice',
  web_search_options: 'OpenAI web search',
};

/** Text of a system, developer or tool message: a string or text parts. */
function textContent(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  const parts = requireArray(content, param);
  return parts
    .map((part, k) => {
      const p = requireObject(part, `${param}[${k}]`);
      if (p.type !== 'text') fail(`${param}[${k}].type`, `expected 'text', got '${String(p.type).slice(0, 40)}'`);
      return requireString(p.text, `${param}[${k}].text`);
    })
    .join('\n');
}

function userContent(content: unknown, param: string): string | ContentBlockParam[] {
  if (typeof content === 'string') return content;
  return requireArray(content, param).map((part, k): ContentBlockParam => {
    const at = `${param}[${k}]`;
    const p = requireObject(part, at);
    switch (p.type) {
      case 'text':
        return { type: 'text', text: requireString(p.text, `${at}.text`) };
      case 'image_url': {
        const image = requireObject(p.image_url, `${at}.image_url`);
        return imageFromUrl(requireString(image.url, `${at}.image_url.url`), `${at}.image_url.url`);
      }
      case 'input_audio':
      case 'file':
        unsupported(`${at}.type`, `'${p.type}' parts (text and images only)`);
      default:
        fail(`${at}.type`, `expected 'text' or 'image_url', got '${String(p.type).slice(0, 40)}'`);
    }
  });
}

function assistantContent(m: Obj, param: string): ContentBlockParam[] {
  const blocks: ContentBlockParam[] = [];
  // The reasoning a client echoes back goes to Kiro inline, as on the Messages route.
  const reasoning = optionalString(m.reasoning_content, `${param}.reasoning_content`);
  if (reasoning) blocks.push({ type: 'thinking', thinking: reasoning });
  const content = m.content;
  if (typeof content === 'string') {
    if (content !== '') blocks.push({ type: 'text', text: content });
  } else if (content != null) {
    requireArray(content, `${param}.content`).forEach((part, k) => {
      const at = `${param}.content[${k}]`;
      const p = requireObject(part, at);
      // A refusal the client echoes back is what the assistant said.
      const text = p.type === 'text' ? requireString(p.text, `${at}.text`) : p.type === 'refusal' ? requireString(p.refusal, `${at}.refusal`) : undefined;
      if (text === undefined) fail(`${at}.type`, `expected 'text' or 'refusal', got '${String(p.type).slice(0, 40)}'`);
      if (text !== '') blocks.push({ type: 'text', text });
    });
  }
  if (m.function_call != null) unsupported(`${param}.function_call`, 'the deprecated function_call: use tool_calls');
  if (m.tool_calls != null) {
    requireArray(m.tool_calls, `${param}.tool_calls`).forEach((call, k) => {
      const at = `${param}.tool_calls[${k}]`;
      const c = requireObject(call, at);
      if (c.type !== undefined && c.type !== 'function') unsupported(`${at}.type`, `tool calls of type '${String(c.type).slice(0, 40)}' (only function)`);
      const fn = requireObject(c.function, `${at}.function`);
      blocks.push({
        type: 'tool_use',
        id: requireNonEmptyString(c.id, `${at}.id`),
        name: requireNonEmptyString(fn.name, `${at}.function.name`),
        input: parseArguments(requireString(fn.arguments, `${at}.function.arguments`), `${at}.function.arguments`),
      });
    });
  }
  return blocks;
}

function toolResult(m: Obj, param: string): ToolResultBlock {
  return {
    type: 'tool_result',
    tool_use_id: requireNonEmptyString(m.tool_call_id, `${param}.tool_call_id`),
    content: textContent(m.content, `${param}.content`),
  };
}

function conversation(messages: unknown): Conversation {
  const list = requireArray(messages, 'messages');
  if (list.length === 0) fail('messages', 'expected at least one message');
  const conv = new Conversation();
  list.forEach((message, i) => {
    const at = `messages[${i}]`;
    const m = requireObject(message, at);
    switch (m.role) {
      case 'system':
      case 'developer':
        conv.system(textContent(m.content, `${at}.content`));
        return;
      case 'user':
        if (m.content === undefined) fail(`${at}.content`, 'missing required parameter', 'missing_required_parameter');
        conv.add({ role: 'user', content: userContent(m.content, `${at}.content`) });
        return;
      case 'assistant':
        conv.add({ role: 'assistant', content: assistantContent(m, at) });
        return;
      case 'tool':
        conv.add({ role: 'user', content: [toolResult(m, at)] });
        return;
      case 'function':
        unsupported(`${at}.role`, "the deprecated 'function' role: use 'tool'");
      default:
        if (m.role === undefined) fail(`${at}.role`, 'missing required parameter', 'missing_required_parameter');
        fail(`${at}.role`, `expected 'system', 'developer', 'user', 'assistant' or 'tool', got '${String(m.role).slice(0, 40)}'`);
    }
  });
  return conv;
}

function stopSequences(value: unknown): string[] | undefined {
  if (value == null) return undefined;
  if (typeof value === 'string') return [value];
  return requireArray(value, 'stop').map((s, k) => requireString(s, `stop[${k}]`));
}

/** Refuses what would change the answer's shape or meaning in ways Kiro cannot produce. */
function refuseUnsupported(body: Obj): void {
  for (const [field, what] of Object.entries(REFUSED)) if (body[field] != null) unsupported(field, what);
  const n = optionalInteger(body.n, 'n', 1);
  if (n !== undefined && n !== 1) fail('n', 'only one choice (n: 1) is supported', 'unsupported_value');
  if (optionalBoolean(body.logprobs, 'logprobs')) fail('logprobs', 'log probabilities are not available from Kiro', 'unsupported_value');
  const format = optionalObject(body.response_format, 'response_format');
  if (format && format.type !== 'text') {
    fail('response_format.type', `'${String(format.type).slice(0, 40)}' is not supported (Kiro has no structured output): only 'text'`, 'unsupported_value');
  }
  if (body.modalities != null && requireArray(body.modalities, 'modalities').some((m) => m !== 'text')) {
    fail('modalities', "only ['text'] is supported", 'unsupported_value');
  }
}

/**
 * Maps a Chat Completions body to an Anthropic Messages request.
 * @throws OpenAiParamError naming the first field that is wrong or not supported.
 */
export function chatToMessages(body: unknown): ChatRequest {
  if (!isObj(body)) fail('body', 'expected a JSON object', 'invalid_type');
  refuseUnsupported(body);
  const model = requireNonEmptyString(body.model, 'model');
  const conv = conversation(body.messages);
  const maxTokens = optionalInteger(body.max_completion_tokens, 'max_completion_tokens', 1) ?? optionalInteger(body.max_tokens, 'max_tokens', 1);
  const request = baseRequest(body, model, maxTokens, conv, 'messages');
  const stop = stopSequences(body.stop);
  if (stop) request.stop_sequences = stop;
  const toolList = functionTools(body.tools, true);
  if (toolList) request.tools = toolList;
  optionalBoolean(body.parallel_tool_calls, 'parallel_tool_calls');
  applyToolChoice(request, body.tool_choice, 'tool_choice', true);
  applyReasoningEffort(request, body.reasoning_effort, 'reasoning_effort');
  const streamOptions = optionalObject(body.stream_options, 'stream_options');
  const includeUsage = optionalBoolean(streamOptions?.include_usage, 'stream_options.include_usage') ?? false;
  return { request, includeUsage };
}
