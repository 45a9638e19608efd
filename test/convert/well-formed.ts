/**
 * Test helper: asserts that a Kiro request body obeys every rule whose violation makes Kiro answer
 * 400 "Improperly formed request" (docs/kiro-protocol.md §12.2), plus the wire-shape rules of §4.1.
 * Throws an Error naming the first broken rule and where.
 */
import type {
  KiroAssistantResponseMessage,
  KiroHistoryEntry,
  KiroRequestBody,
  KiroToolResult,
  KiroUserInputMessage,
} from '../../src/kiro/types.js';

const MAX_TOOL_NAME_BYTES = 63;
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);

function fail(where: string, rule: string): never {
  throw new Error(`Kiro body not well formed at ${where}: ${rule}`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSchemaNode(node: unknown, where: string, top: boolean): void {
  if (!isObj(node)) return;
  for (const key of ['type', 'properties', 'required'] as const) {
    if (key in node && node[key] === null) fail(where, `schema ${key} is null`);
  }
  if ('required' in node && (!Array.isArray(node.required) || node.required.some((r) => typeof r !== 'string'))) {
    fail(where, 'schema required is not an array of strings');
  }
  if ('properties' in node && !isObj(node.properties)) fail(where, 'schema properties is not an object');
  if (top) {
    if (typeof node.type !== 'string' || node.type === '') fail(where, 'schema has no type');
    if (!isObj(node.properties)) fail(where, 'schema has no properties object');
    if (!Array.isArray(node.required)) fail(where, 'schema has no required array');
  }
  if (isObj(node.properties)) {
    for (const [k, v] of Object.entries(node.properties)) checkSchemaNode(v, `${where}.properties.${k}`, false);
  }
  for (const key of ['items', 'additionalProperties', 'not']) checkSchemaNode(node[key], `${where}.${key}`, false);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const list = node[key];
    if (Array.isArray(list)) list.forEach((s, i) => checkSchemaNode(s, `${where}.${key}.${i}`, false));
  }
}

function checkUser(m: KiroUserInputMessage, where: string, modelId: string, isCurrent: boolean): void {
  if (!isObj(m)) fail(where, 'userInputMessage missing');
  if (typeof m.content !== 'string') fail(where, 'content is not a string');
  if (m.origin !== 'AI_EDITOR') fail(where, 'origin is not AI_EDITOR');
  if (m.modelId !== modelId) fail(where, `modelId ${m.modelId} differs from current ${modelId}`);
  const ctx = m.userInputMessageContext;
  if (isCurrent && !isObj(ctx)) fail(where, 'current message has no userInputMessageContext');
  if (!isCurrent && ctx?.tools !== undefined) fail(where, 'tools outside the current message');
  if (!isCurrent && ctx !== undefined && !ctx.toolResults?.length) fail(where, 'empty userInputMessageContext in history');
  if (ctx?.toolResults !== undefined && ctx.toolResults.length === 0) fail(where, 'empty toolResults array');
  if (m.images !== undefined) {
    if (m.images.length === 0) fail(where, 'empty images array');
    m.images.forEach((img, i) => {
      if (!IMAGE_FORMATS.has(img.format) || typeof img.source?.bytes !== 'string') fail(`${where}.images.${i}`, 'bad image');
    });
  }
  const hasContent = m.content !== '' || (ctx?.toolResults?.length ?? 0) > 0 || (m.images?.length ?? 0) > 0;
  if (!hasContent) fail(where, 'user message with no content, tool results or images');
  for (const [i, r] of (ctx?.toolResults ?? []).entries()) checkToolResult(r, `${where}.toolResults.${i}`);
}

function checkToolResult(r: KiroToolResult, where: string): void {
  if (typeof r.toolUseId !== 'string' || r.toolUseId === '') fail(where, 'toolUseId missing');
  if (!Array.isArray(r.content) || r.content.length === 0 || r.content.some((c) => typeof c?.text !== 'string')) {
    fail(where, 'content is not [{text}]');
  }
  if (r.status !== 'success' && r.status !== 'error') fail(where, `status ${String(r.status)}`);
  if (r.isError !== undefined && (r.isError !== true || r.status !== 'error')) fail(where, 'isError inconsistent with status');
}

function checkAssistant(m: KiroAssistantResponseMessage, where: string): void {
  if (!isObj(m)) fail(where, 'assistantResponseMessage missing');
  if (typeof m.content !== 'string' || m.content === '') fail(where, 'empty assistant content');
  if (m.toolUses !== undefined && m.toolUses.length === 0) fail(where, 'empty toolUses array');
  if (m.content.trim() === '' && !m.toolUses?.length) fail(where, 'blank assistant content without tool uses');
  for (const [i, u] of (m.toolUses ?? []).entries()) {
    if (typeof u.toolUseId !== 'string' || u.toolUseId === '') fail(`${where}.toolUses.${i}`, 'toolUseId missing');
    if (typeof u.name !== 'string' || u.name === '') fail(`${where}.toolUses.${i}`, 'name missing');
    if (Buffer.byteLength(u.name) > MAX_TOOL_NAME_BYTES) fail(`${where}.toolUses.${i}`, `name longer than 63 bytes: ${u.name}`);
    if (!isObj(u.input)) fail(`${where}.toolUses.${i}`, 'input is not an object');
  }
}

/**
 * Throws unless `body` is a Kiro request Kiro would not reject as improperly formed: history
 * alternates user/assistant starting with user and ending with assistant; no empty assistant
 * content; every history toolUse is answered exactly once by the next user turn and every
 * toolResult answers a toolUse of the assistant turn right before it; toolUse ids are unique;
 * tools are declared only on the current message, uniquely (case-insensitive), with names ≤ 63
 * bytes and clean schemas; every tool used in history is declared; no profileArn.
 */
export function assertWellFormedKiroBody(body: KiroRequestBody): void {
  if (!isObj(body) || !isObj(body.conversationState)) fail('body', 'no conversationState');
  if ('profileArn' in body) fail('body', 'profileArn must be added per credential, not by the converter');
  const cs = body.conversationState;
  if (cs.agentTaskType !== 'vibe') fail('conversationState', 'agentTaskType is not vibe');
  if (cs.chatTriggerType !== 'MANUAL') fail('conversationState', 'chatTriggerType is not MANUAL');
  for (const key of ['conversationId', 'agentContinuationId'] as const) {
    if (typeof cs[key] !== 'string' || cs[key].length !== 36) fail(`conversationState.${key}`, 'not a UUID');
  }
  const current = cs.currentMessage?.userInputMessage;
  if (!current) fail('currentMessage', 'missing userInputMessage');
  const modelId = current.modelId;
  if (typeof modelId !== 'string' || !modelId.startsWith('claude-')) fail('currentMessage', 'bad modelId');

  const history: KiroHistoryEntry[] = cs.history ?? [];
  if (cs.history !== undefined && cs.history.length === 0) fail('history', 'empty history array (omit it)');
  const seenToolUseIds = new Set<string>();
  const historyToolNames: string[] = [];
  let pending: Set<string> | undefined;

  const answer = (results: KiroToolResult[] | undefined, where: string) => {
    const answered = new Set<string>();
    for (const r of results ?? []) {
      if (!pending?.has(r.toolUseId)) fail(where, `toolResult ${r.toolUseId} answers no toolUse of the previous assistant turn`);
      if (answered.has(r.toolUseId)) fail(where, `duplicate toolResult ${r.toolUseId}`);
      answered.add(r.toolUseId);
    }
    for (const id of pending ?? []) if (!answered.has(id)) fail(where, `toolUse ${id} has no toolResult`);
    pending = undefined;
  };

  history.forEach((entry, i) => {
    const where = `history.${i}`;
    const keys = Object.keys(entry);
    if (keys.length !== 1) fail(where, `entry has keys ${keys.join(',')}`);
    const expectUser = i % 2 === 0;
    if (expectUser) {
      if (!('userInputMessage' in entry)) fail(where, 'expected a user turn (history must alternate, starting with user)');
      checkUser(entry.userInputMessage, where, modelId, false);
      answer(entry.userInputMessage.userInputMessageContext?.toolResults, where);
    } else {
      if (!('assistantResponseMessage' in entry)) fail(where, 'expected an assistant turn (history must alternate)');
      const m = entry.assistantResponseMessage;
      checkAssistant(m, where);
      if (m.toolUses?.length) {
        pending = new Set();
        for (const u of m.toolUses) {
          if (seenToolUseIds.has(u.toolUseId)) fail(where, `duplicate toolUseId ${u.toolUseId}`);
          seenToolUseIds.add(u.toolUseId);
          pending.add(u.toolUseId);
          historyToolNames.push(u.name);
        }
      }
    }
  });
  if (history.length % 2 !== 0) fail('history', 'history must end with an assistant turn');

  checkUser(current, 'currentMessage', modelId, true);
  answer(current.userInputMessageContext?.toolResults, 'currentMessage');

  const tools = current.userInputMessageContext?.tools ?? [];
  const declared = new Set<string>();
  tools.forEach((t, i) => {
    const where = `currentMessage.tools.${i}`;
    const spec = t.toolSpecification;
    if (!isObj(spec)) fail(where, 'no toolSpecification');
    if (typeof spec.name !== 'string' || spec.name === '') fail(where, 'name missing');
    if (Buffer.byteLength(spec.name) > MAX_TOOL_NAME_BYTES) fail(where, `name longer than 63 bytes: ${spec.name}`);
    const key = spec.name.toLowerCase();
    if (declared.has(key)) fail(where, `duplicate tool ${spec.name}`);
    declared.add(key);
    if (typeof spec.description !== 'string' || spec.description === '') fail(where, 'description missing');
    if (!isObj(spec.inputSchema) || !isObj(spec.inputSchema.json)) fail(where, 'inputSchema.json missing');
    checkSchemaNode(spec.inputSchema.json, `${where}.inputSchema.json`, true);
  });
  for (const name of historyToolNames) {
    if (!declared.has(name.toLowerCase())) fail('currentMessage.tools', `history tool ${name} is not declared`);
  }
}
