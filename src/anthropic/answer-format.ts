/**
 * The wire format a messages answer is written in. The pipeline (messages.ts) produces Anthropic
 * stream events; a format turns them into what the client asked for: Anthropic's own SSE and JSON
 * by default, OpenAI's Chat Completions or Responses shapes for the routes in src/openai/.
 */
import type { Message, StreamEvent } from './types.js';
import { encodeSseEvents, SSE_PING } from '../convert/sse.js';

/** Encodes one stream's events, batch by batch, in order (an encoder may keep state between batches). */
export interface SseEncoder {
  encode(events: readonly StreamEvent[]): string;
  /** Written while the upstream is silent, to keep proxies and clients from timing out. */
  readonly ping: string;
}

export interface AnswerFormat {
  /** A fresh encoder for one streaming answer. */
  sseEncoder(): SseEncoder;
  /** The body of a non-streaming answer, from the folded message. */
  jsonBody(message: Message): unknown;
  /** Claude Code's web-search sub-request (answered from Kiro's MCP endpoint) exists in Anthropic's shape only. */
  readonly webSearch: boolean;
}

const ANTHROPIC_SSE: SseEncoder = { encode: encodeSseEvents, ping: SSE_PING };

/** Anthropic's SSE events and JSON message. */
export const ANTHROPIC_FORMAT: AnswerFormat = {
  sseEncoder: () => ANTHROPIC_SSE,
  jsonBody: (message) => message,
  webSearch: true,
};
