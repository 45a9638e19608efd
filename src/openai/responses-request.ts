/**
 * `POST /v1/responses` body → the Anthropic Messages request the pipeline runs, plus the request
 * fields a Response object repeats back. The gateway is stateless: it stores no responses, so
 * everything that refers to a stored one (`previous_response_id`, `conversation`, item references,
 * `background`) is refused with that reason, and clients send the whole conversation in `input`
 * (as Codex does with `store: false`).
 */
import type { ContentBlockParam, MessagesRequest } from '../anthropic/types.js';
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

/** Request fields echoed in the Response object, as OpenAI's API echoes them. */
export interface ResponseEcho {
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  tools: unknown[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  reasoning: { effort: string | null; summary: string | null };
  metadata: Record<string, unknown>;
}

/** A Responses request as the pipeline takes it, and what its answer repeats. */
export interface ResponsesRequest {
  request: MessagesRequest;
  echo: ResponseEcho;
}

const STATELESS = 'this gateway stores no responses: send the whole conversation in input';

/** Fields that need state or features Kiro does not have; refused rather than silently ignored. */
const REFUSED: Readonly<Record<string, string>> = {
  previous_response_id: STATELESS,
  conversation: STATELESS,
  prompt: 'stored prompt templates',
};

function textPart(p: Obj, at: string, types: readonly string[]): string | undefined {
  if (!types.includes(p.type as string)) return undefined;
  return p.type === 'refusal' ? requireString(p.refusal, `${at}.refusal`) : requireString(p.text, `${at}.text`);
}

/** Text of a system or developer message, or of a function call's output. */
function textContent(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  return requireArray(content, param)
    .map((part, k) => {
      const p = requireObject(part, `${param}[${k}]`);
      const text = textPart(p, `${param}[${k}]`, ['input_text']);
      if (text === undefined) fail(`${param}[${k}].type`, `expected 'input_text', got '${String(p.type).slice(0, 40)}'`);
      return text;
    })
    .join('\n');
}

function inputImage(p: Obj, at: string): ContentBlockParam {
  if (p.file_id != null) unsupported(`${at}.file_id`, 'uploaded files: send the image inline as a data URL');
  return imageFromUrl(requireString(p.image_url, `${at}.image_url`), `${at}.image_url`);
}

/**
 * Text and image parts: a user message's content, a function call's output (images in tool results
 * do not reach Kiro). A part of a type in `refused` is named as unsupported, any other as wrong.
 */
function inputParts(content: unknown, param: string, refused: readonly string[]): string | ContentBlockParam[] {
  if (typeof content === 'string') return content;
  return requireArray(content, param).map((part, k): ContentBlockParam => {
    const at = `${param}[${k}]`;
    const p = requireObject(part, at);
    if (p.type === 'input_text') return { type: 'text', text: requireString(p.text, `${at}.text`) };
    if (p.type === 'input_image') return inputImage(p, at);
    if (refused.includes(p.type as string)) unsupported(`${at}.type`, `'${p.type}' parts (text and images only)`);
    fail(`${at}.type`, `expected 'input_text' or 'input_image', got '${String(p.type).slice(0, 40)}'`);
  });
}

/** Files and audio in a user message are refused as such. */
const REFUSED_USER_PARTS = ['input_file', 'input_audio'];

function assistantContent(content: unknown, param: string): ContentBlockParam[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  const blocks: ContentBlockParam[] = [];
  requireArray(content, param).forEach((part, k) => {
    const at = `${param}[${k}]`;
    const p = requireObject(part, at);
    const text = textPart(p, at, ['output_text', 'input_text', 'refusal']);
    if (text === undefined) fail(`${at}.type`, `expected 'output_text' or 'refusal', got '${String(p.type).slice(0, 40)}'`);
    if (text !== '') blocks.push({ type: 'text', text });
  });
  return blocks;
}

function addMessage(conv: Conversation, item: Obj, at: string, assistant: (content: ContentBlockParam[]) => void): void {
  if (item.content === undefined) fail(`${at}.content`, 'missing required parameter', 'missing_required_parameter');
  switch (item.role) {
    case 'system':
    case 'developer':
      conv.system(textContent(item.content, `${at}.content`));
      return;
    case 'user':
      conv.add({ role: 'user', content: inputParts(item.content, `${at}.content`, REFUSED_USER_PARTS) });
      return;
    case 'assistant':
      assistant(assistantContent(item.content, `${at}.content`));
      return;
    default:
      if (item.role === undefined) fail(`${at}.role`, 'missing required parameter', 'missing_required_parameter');
      fail(`${at}.role`, `expected 'user', 'assistant', 'system' or 'developer', got '${String(item.role).slice(0, 40)}'`);
  }
}

/** The text of a reasoning item the client sends back: its reasoning_text content, else its summary. */
function reasoningText(item: Obj, at: string): string {
  const field = item.content != null ? 'content' : 'summary';
  if (item[field] == null) return '';
  return requireArray(item[field], `${at}.${field}`)
    .map((part, k) => requireString(requireObject(part, `${at}.${field}[${k}]`).text, `${at}.${field}[${k}].text`))
    .join('\n');
}

function conversation(input: unknown, instructions: string | undefined): Conversation {
  const conv = new Conversation();
  // Earlier reasoning goes to Kiro inline with the assistant turn that follows it, as on the Messages route.
  let reasoning = '';
  const assistant = (content: ContentBlockParam[]) => {
    if (reasoning !== '') content.unshift({ type: 'thinking', thinking: reasoning });
    reasoning = '';
    conv.add({ role: 'assistant', content });
  };
  /** Reasoning no assistant turn followed stays with the turn it came from. */
  const flushReasoning = () => {
    if (reasoning !== '') assistant([]);
  };
  if (instructions) conv.system(instructions);
  if (typeof input === 'string') {
    conv.add({ role: 'user', content: input });
    return conv;
  }
  const items = requireArray(input, 'input');
  if (items.length === 0) fail('input', 'expected at least one item');
  items.forEach((value, i) => {
    const at = `input[${i}]`;
    const item = requireObject(value, at);
    switch (item.type ?? 'message') {
      case 'message':
        if (item.role !== 'assistant') flushReasoning();
        addMessage(conv, item, at, assistant);
        return;
      case 'function_call':
        // Consecutive calls (and the assistant text before them) form one assistant turn in the converter.
        assistant([
          {
            type: 'tool_use',
            id: requireNonEmptyString(item.call_id, `${at}.call_id`),
            name: requireNonEmptyString(item.name, `${at}.name`),
            input: parseArguments(requireString(item.arguments, `${at}.arguments`), `${at}.arguments`),
          },
        ]);
        return;
      case 'function_call_output':
        flushReasoning();
        conv.add({
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: requireNonEmptyString(item.call_id, `${at}.call_id`), content: inputParts(item.output, `${at}.output`, []) }],
        });
        return;
      case 'reasoning': {
        const text = reasoningText(item, at);
        if (text !== '') reasoning = reasoning === '' ? text : `${reasoning}\n${text}`;
        return;
      }
      case 'item_reference':
        unsupported(`${at}.type`, `item references (${STATELESS})`);
      default:
        unsupported(`${at}.type`, `input items of type '${String(item.type).slice(0, 40)}' (messages, function_call, function_call_output and reasoning only)`);
    }
  });
  flushReasoning();
  return conv;
}

function refuseUnsupported(body: Obj): void {
  for (const [field, why] of Object.entries(REFUSED)) if (body[field] != null) unsupported(field, why);
  if (optionalBoolean(body.background, 'background')) fail('background', `background responses are not supported (${STATELESS})`, 'unsupported_value');
  const text = optionalObject(body.text, 'text');
  const format = optionalObject(text?.format, 'text.format');
  if (format && format.type !== 'text') {
    fail('text.format.type', `'${String(format.type).slice(0, 40)}' is not supported (Kiro has no structured output): only 'text'`, 'unsupported_value');
  }
}

/**
 * Maps a Responses body to an Anthropic Messages request.
 * @throws OpenAiParamError naming the first field that is wrong or not supported.
 */
export function responsesToMessages(body: unknown): ResponsesRequest {
  if (!isObj(body)) fail('body', 'expected a JSON object', 'invalid_type');
  refuseUnsupported(body);
  const model = requireNonEmptyString(body.model, 'model');
  if (body.input === undefined) fail('input', 'missing required parameter', 'missing_required_parameter');
  const instructions = optionalString(body.instructions, 'instructions');
  const conv = conversation(body.input, instructions);
  const maxTokens = optionalInteger(body.max_output_tokens, 'max_output_tokens', 1);
  const request = baseRequest(body, model, maxTokens, conv, 'input');
  const toolList = functionTools(body.tools, false);
  if (toolList) request.tools = toolList;
  const parallel = optionalBoolean(body.parallel_tool_calls, 'parallel_tool_calls');
  applyToolChoice(request, body.tool_choice, 'tool_choice', false);
  const reasoning = optionalObject(body.reasoning, 'reasoning');
  applyReasoningEffort(request, reasoning?.effort, 'reasoning.effort');
  const metadata = optionalObject(body.metadata, 'metadata');
  return {
    request,
    echo: {
      model,
      instructions: instructions ?? null,
      max_output_tokens: maxTokens ?? null,
      temperature: request.temperature ?? null,
      top_p: request.top_p ?? null,
      tools: (body.tools as unknown[] | undefined) ?? [],
      tool_choice: body.tool_choice ?? 'auto',
      parallel_tool_calls: parallel ?? true,
      reasoning: {
        effort: typeof reasoning?.effort === 'string' ? reasoning.effort : null,
        summary: typeof reasoning?.summary === 'string' ? reasoning.summary : null,
      },
      metadata: metadata ?? {},
    },
  };
}
