/**
 * The checks behind Kiro's 400 "Improperly formed request." (docs/kiro-protocol.md §12.2), so the
 * gateway's request normalisation is tested against a strict upstream rather than trusted.
 */

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Longest tool name Kiro accepts. */
export const MAX_TOOL_NAME_LENGTH = 64;
/** Kiro's per-field limit as the simulator applies it to an image's base64 (newer notes §7). */
export const MAX_IMAGE_BASE64_CHARS = 400_000;
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

const MAGIC: Array<[string, (b: Buffer) => boolean]> = [
  ['png', (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47],
  ['jpeg', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['gif', (b) => b.subarray(0, 4).toString('latin1') === 'GIF8'],
  ['webp', (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP'],
];

/** Kiro's image checks: the size limit (CONTENT_LENGTH_EXCEEDS_THRESHOLD) and format vs bytes (IMAGE_MIME_MISMATCH). */
function imagesProblem(message: Obj, where: string): string | undefined {
  const images = message.images;
  if (images === undefined) return undefined;
  if (!Array.isArray(images)) return `${where} images is not an array`;
  for (let i = 0; i < images.length; i++) {
    const image = images[i] as Obj;
    const bytes = isObject(image) && isObject(image.source) ? image.source.bytes : undefined;
    if (typeof bytes !== 'string') return `${where} images[${i}] has no source.bytes`;
    if (bytes.length > MAX_IMAGE_BASE64_CHARS) {
      return `${where} images[${i}] is ${bytes.length} base64 chars, over ${MAX_IMAGE_BASE64_CHARS} (CONTENT_LENGTH_EXCEEDS_THRESHOLD)`;
    }
    const head = Buffer.from(bytes.slice(0, 24), 'base64');
    const actual = MAGIC.find(([, test]) => test(head))?.[0];
    if (actual !== undefined && actual !== image.format) {
      return `${where} images[${i}] is labelled ${String(image.format)} but its bytes are ${actual} (IMAGE_MIME_MISMATCH)`;
    }
  }
  return undefined;
}

/** Draft-07 checks of Kiro's validator that MCP schemas fail (newer notes §4). */
function schemaKeywordProblem(node: unknown, path: string): string | undefined {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const p = schemaKeywordProblem(node[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  if (!isObject(node)) return undefined;
  if ('$schema' in node) return `${path} has $schema`;
  for (const key of ['exclusiveMinimum', 'exclusiveMaximum']) {
    if (typeof node[key] === 'number') return `${path}.${key} is a number (Draft 2020-12), not Draft-07`;
  }
  for (const key of ['minimum', 'maximum']) {
    const v = node[key];
    if (typeof v === 'number' && (v > INT32_MAX || v < INT32_MIN)) return `${path}.${key} ${v} is outside the 32-bit range`;
  }
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'object' && value !== null) {
      const p = schemaKeywordProblem(value, `${path}.${key}`);
      if (p) return p;
    }
  }
  return undefined;
}

/**
 * Why Kiro would reject this generateAssistantResponse body, or undefined if it would accept it.
 * The reason is for test diagnostics only; Kiro itself never says.
 */
export function findMalformation(body: unknown): string | undefined {
  if (!isObject(body)) return 'body is not a JSON object';
  const state = body.conversationState;
  if (!isObject(state)) return 'missing conversationState';
  if (state.chatTriggerType !== 'MANUAL') return `chatTriggerType ${JSON.stringify(state.chatTriggerType)} is not MANUAL`;
  const current = isObject(state.currentMessage) ? state.currentMessage.userInputMessage : undefined;
  if (!isObject(current)) return 'missing currentMessage.userInputMessage';
  if (typeof current.modelId !== 'string' || current.modelId === '') return 'missing currentMessage modelId';
  if (typeof current.content !== 'string') return 'currentMessage content is not a string';
  const currentImages = imagesProblem(current, 'currentMessage');
  if (currentImages) return currentImages;

  const context = current.userInputMessageContext;
  if (context !== undefined && !isObject(context)) return 'userInputMessageContext is not an object';
  const declared = new Set<string>();
  if (context?.tools !== undefined) {
    if (!Array.isArray(context.tools)) return 'tools is not an array';
    for (let i = 0; i < context.tools.length; i++) {
      const problem = toolProblem(context.tools[i]);
      if (problem) return `tools[${i}]: ${problem}`;
      declared.add(((context.tools[i] as Obj).toolSpecification as Obj).name as string);
    }
  }
  const declaredLower = new Set([...declared].map((n) => n.toLowerCase()));

  const history = state.history ?? [];
  if (!Array.isArray(history)) return 'history is not an array';
  // Tool uses of the assistant message just before the user message being checked.
  let openToolUses: Set<string> | undefined;
  for (let i = 0; i < history.length; i++) {
    const entry: unknown = history[i];
    if (!isObject(entry)) return `history[${i}] is not an object`;
    const user = entry.userInputMessage;
    const assistant = entry.assistantResponseMessage;
    if ((user === undefined) === (assistant === undefined)) {
      return `history[${i}] must hold exactly one of userInputMessage / assistantResponseMessage`;
    }
    const isUser = user !== undefined;
    if (isUser !== (i % 2 === 0)) {
      return i === 0
        ? 'history does not start with a user message'
        : `history[${i - 1}] and history[${i}] are both ${isUser ? 'user' : 'assistant'} messages`;
    }
    if (isUser) {
      if (!isObject(user)) return `history[${i}].userInputMessage is not an object`;
      if (typeof user.content !== 'string') return `history[${i}] user content is not a string`;
      const images = imagesProblem(user, `history[${i}]`);
      if (images) return images;
      const problem = toolResultsProblem(user, openToolUses, `history[${i}]`);
      if (problem) return problem;
      openToolUses = undefined;
    } else {
      if (!isObject(assistant)) return `history[${i}].assistantResponseMessage is not an object`;
      if (typeof assistant.content !== 'string' || assistant.content === '') return `history[${i}] assistant content is empty`;
      openToolUses = new Set();
      if (assistant.toolUses !== undefined) {
        if (!Array.isArray(assistant.toolUses)) return `history[${i}].toolUses is not an array`;
        for (const use of assistant.toolUses as unknown[]) {
          if (!isObject(use) || typeof use.toolUseId !== 'string' || typeof use.name !== 'string') {
            return `history[${i}] has a toolUse without toolUseId or name`;
          }
          if (!declaredLower.has(use.name.toLowerCase())) {
            return `tool ${use.name} is used in history[${i}] but not declared in currentMessage tools`;
          }
          openToolUses.add(use.toolUseId);
        }
      }
    }
  }
  if (history.length % 2 === 1) return 'history ends with a user message, next to the current user message';
  return toolResultsProblem(current, openToolUses, 'currentMessage');
}

/**
 * Every tool use of the preceding assistant message must be answered exactly once by this user
 * message, and every result must answer one of them.
 */
function toolResultsProblem(user: Obj, openToolUses: Set<string> | undefined, where: string): string | undefined {
  const context = user.userInputMessageContext;
  const results = isObject(context) ? context.toolResults : undefined;
  const answered = new Set<string>();
  if (results !== undefined) {
    if (!Array.isArray(results)) return `${where} toolResults is not an array`;
    for (const result of results as unknown[]) {
      if (!isObject(result) || typeof result.toolUseId !== 'string') return `${where} has a toolResult without toolUseId`;
      if (!Array.isArray(result.content)) return `${where} toolResult ${result.toolUseId} content is not an array`;
      if (answered.has(result.toolUseId)) return `${where} answers tool use ${result.toolUseId} twice`;
      if (!openToolUses?.has(result.toolUseId)) {
        return `${where} has a toolResult for ${result.toolUseId}, which the previous assistant message did not use`;
      }
      answered.add(result.toolUseId);
    }
  }
  if (openToolUses) {
    for (const id of openToolUses) if (!answered.has(id)) return `tool use ${id} has no toolResult in ${where}`;
  }
  return undefined;
}

function toolProblem(tool: unknown): string | undefined {
  const spec = isObject(tool) ? tool.toolSpecification : undefined;
  if (!isObject(spec)) return 'missing toolSpecification';
  if (typeof spec.name !== 'string' || spec.name === '') return 'missing name';
  if (spec.name.length > MAX_TOOL_NAME_LENGTH) return `name ${spec.name} is longer than ${MAX_TOOL_NAME_LENGTH} characters`;
  if (typeof spec.description !== 'string' || spec.description.trim() === '') return `${spec.name}: empty description`;
  const schema = isObject(spec.inputSchema) ? spec.inputSchema.json : undefined;
  if (!isObject(schema)) return `${spec.name}: missing inputSchema.json`;
  if (schema.type === undefined || schema.type === null) return `${spec.name}: schema has no type`;
  if ('required' in schema && !Array.isArray(schema.required)) return `${spec.name}: schema required is not an array`;
  if ('properties' in schema && !isObject(schema.properties)) return `${spec.name}: schema properties is not an object`;
  const keyword = schemaKeywordProblem(schema, `${spec.name}: schema`);
  if (keyword) return keyword;
  return undefined;
}
