/**
 * The simulator's ListAvailableModels (docs/kiro-protocol-newer.md §3) and the per-account model
 * entitlement generateAssistantResponse enforces, so routing by model is tested against an upstream
 * that refuses a model the account may not call.
 */
import type { Account } from './accounts.js';
import type { SimModel } from './types.js';

function model(modelId: string, maxInputTokens: number, maxOutputTokens: number, rateMultiplier: number, images = true): SimModel {
  return {
    modelId,
    modelName: modelId,
    rateMultiplier,
    rateUnit: 'Credit',
    supportedInputTypes: images ? ['TEXT', 'IMAGE'] : ['TEXT'],
    tokenLimits: { maxInputTokens, maxOutputTokens },
    promptCaching: { supportsPromptCaching: true, maximumCacheCheckpointsPerRequest: 4, minimumTokensPerCacheCheckpoint: 1024 },
  } as SimModel;
}

const AUTO = model('auto', 1_000_000, 64_000, 1.0);
const SONNET_4_5 = model('claude-sonnet-4.5', 200_000, 64_000, 1.3);
const SONNET_4_6 = model('claude-sonnet-4.6', 1_000_000, 64_000, 1.3);
const HAIKU_4_5 = model('claude-haiku-4.5', 200_000, 64_000, 0.4);
const OPUS_4_5 = model('claude-opus-4.5', 200_000, 64_000, 2.2);
const OPUS_4_6 = model('claude-opus-4.6', 1_000_000, 64_000, 2.2);
const OPUS_4_7 = model('claude-opus-4.7', 1_000_000, 64_000, 2.2);
const OPUS_4_8 = model('claude-opus-4.8', 1_000_000, 128_000, 2.2);
const SONNET_5 = model('claude-sonnet-5', 1_000_000, 64_000, 1.3);
const HAIKU_4_5_TEXT_ONLY = model('claude-haiku-4.5', 200_000, 64_000, 0.4, false);
const DEEPSEEK_3_2 = model('deepseek-3.2', 128_000, 8_192, 0.25, false);

/**
 * Account presets (newer notes §1, §2): a free account (Auto, Sonnet 4.5, Haiku 4.5, no Opus), a
 * paid IdC account that already has Opus 4.7, one with Sonnet 5, one whose Haiku and DeepSeek take
 * text only (`supportedInputTypes: ["TEXT"]`), and the default list (everything the built-in table
 * of the gateway knows, so accounts without a preset behave as before).
 */
export const SIM_MODEL_LISTS = {
  free: [AUTO, SONNET_4_5, HAIKU_4_5],
  idcOpus47: [AUTO, SONNET_4_5, SONNET_4_6, HAIKU_4_5, OPUS_4_5, OPUS_4_6, OPUS_4_7],
  sonnet5: [AUTO, SONNET_4_5, SONNET_4_6, HAIKU_4_5, SONNET_5],
  textOnly: [AUTO, SONNET_4_5, HAIKU_4_5_TEXT_ONLY, DEEPSEEK_3_2],
  default: [AUTO, SONNET_4_5, SONNET_4_6, HAIKU_4_5, OPUS_4_5, OPUS_4_6, OPUS_4_7, OPUS_4_8],
} as const satisfies Record<string, readonly SimModel[]>;

/** Kiro's answer when an account asks for a model it may not call. */
export const INVALID_MODEL_BODY = { message: 'Invalid model. Please select a different model to continue.', reason: 'INVALID_MODEL_ID' };

/** The account's list (the default one without a preset). */
export function modelsOf(account: Account | undefined): readonly SimModel[] {
  return account?.behaviour.models ?? SIM_MODEL_LISTS.default;
}

/** Why this account may not call `modelId`, or undefined when it may. */
export function modelRefusal(account: Account | undefined, modelId: string): string | undefined {
  if (account === undefined) return undefined;
  const list = modelsOf(account);
  if (list.some((m) => m.modelId === modelId)) return undefined;
  return `model ${modelId} is not offered to this account (it has ${list.map((m) => m.modelId).join(', ')})`;
}

/** Whether any user message of a (well-formed) body carries images. */
function hasImages(body: unknown): boolean {
  type User = { images?: unknown[] };
  const state = (body as { conversationState: { currentMessage: { userInputMessage: User }; history?: Array<{ userInputMessage?: User }> } })
    .conversationState;
  const users = [state.currentMessage.userInputMessage, ...(state.history ?? []).map((h) => h.userInputMessage)];
  return users.some((u) => (u?.images?.length ?? 0) > 0);
}

/** Why Kiro would refuse this body's images for `modelId` (its list entry takes text only), or undefined. */
export function imageRefusal(account: Account | undefined, body: unknown, modelId: string): string | undefined {
  const entry = modelsOf(account).find((m) => m.modelId === modelId);
  if (!entry?.supportedInputTypes || entry.supportedInputTypes.includes('IMAGE') || !hasImages(body)) return undefined;
  return `model ${modelId} takes ${entry.supportedInputTypes.join(', ')} input only, and the request has images`;
}

/** The ListAvailableModels body of an account. */
export function listAvailableModelsBody(account: Account | undefined): unknown {
  const models = modelsOf(account);
  return { defaultModel: models[0], models, nextToken: null };
}

/** Models that take adaptive thinking only (newer notes §1, §2: Sonnet 5 answers a manual budget with 400). */
const ADAPTIVE_ONLY = /^claude-(opus-4\.([7-9]|\d{2,})|sonnet-5)/;

/** Why Kiro would refuse the thinking switch of this body for `modelId`, or undefined. */
export function thinkingRefusal(body: unknown, modelId: string): string | undefined {
  if (!ADAPTIVE_ONLY.test(modelId)) return undefined;
  const history = (body as { conversationState?: { history?: Array<{ userInputMessage?: { content?: unknown } }> } }).conversationState?.history;
  const first = history?.[0]?.userInputMessage?.content;
  if (typeof first === 'string' && first.includes('<thinking_mode>enabled</thinking_mode>')) {
    return `${modelId} takes adaptive thinking only; enabled + max_thinking_length is refused`;
  }
  return undefined;
}
