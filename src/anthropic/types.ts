/**
 * Anthropic Messages API wire types (field names as on the wire). Only what the gateway reads or
 * writes is typed; unknown fields are tolerated on input and never produced on output.
 */

import type { ErrorType } from '../errors.js';

export interface CacheControl {
  type: string;
  ttl?: string;
}

export interface TextBlock {
  type: 'text';
  text: string;
  cache_control?: CacheControl;
}

export interface ImageBlock {
  type: 'image';
  source:
    | { type: 'base64'; media_type: string; data: string }
    | { type: 'url'; url: string };
  cache_control?: CacheControl;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
  cache_control?: CacheControl;
}

export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | Array<TextBlock | ImageBlock | { type: string; [k: string]: unknown }>;
  is_error?: boolean;
  cache_control?: CacheControl;
}

export interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature?: string;
}

export interface RedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

export type ContentBlockParam =
  | TextBlock
  | ImageBlock
  | ToolUseBlock
  | ToolResultBlock
  | ThinkingBlock
  | RedactedThinkingBlock
  | { type: string; [k: string]: unknown };

/** `role: "system"` appears mid-conversation with Claude Code's `mid-conversation-system` beta. */
export type Role = 'user' | 'assistant' | 'system';

export interface MessageParam {
  role: Role;
  content: string | ContentBlockParam[];
}

export interface ToolParam {
  name: string;
  description?: string;
  input_schema?: unknown;
  /** Server tools such as `web_search_20250305` carry a `type`. */
  type?: string;
  max_uses?: number;
  cache_control?: CacheControl;
}

export interface ThinkingParam {
  type: 'enabled' | 'adaptive' | 'disabled' | string;
  budget_tokens?: number;
}

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | TextBlock[] | null;
  tools?: ToolParam[];
  tool_choice?: unknown;
  stream?: boolean;
  thinking?: ThinkingParam;
  output_config?: { effort?: string; [k: string]: unknown };
  metadata?: { user_id?: string; [k: string]: unknown };
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  context_management?: unknown;
}

export interface CountTokensRequest {
  model: string;
  messages: MessageParam[];
  system?: string | TextBlock[] | null;
  tools?: ToolParam[];
  thinking?: ThinkingParam;
}

export type StopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  server_tool_use?: { web_search_requests: number };
}

/** Content blocks the gateway produces in responses. */
export type ResponseContentBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'server_tool_use'; id: string; name: string; input: unknown }
  | { type: 'web_search_tool_result'; tool_use_id: string; content: unknown };

export interface Message {
  id: string;
  type: 'message';
  role: 'assistant';
  content: ResponseContentBlock[];
  model: string;
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: Usage;
}

/** The six members of anthropic-sdk's `RawMessageStreamEvent`, plus `ping` and `error`. */
export type StreamEvent =
  | { type: 'message_start'; message: Message }
  | { type: 'content_block_start'; index: number; content_block: ResponseContentBlock }
  | {
      type: 'content_block_delta';
      index: number;
      delta:
        | { type: 'text_delta'; text: string }
        | { type: 'thinking_delta'; thinking: string }
        | { type: 'signature_delta'; signature: string }
        | { type: 'input_json_delta'; partial_json: string };
    }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: StopReason | null; stop_sequence: string | null };
      usage: Usage;
    }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: StreamError };

/** An error that ended a stream, as sent in the SSE `error` event. */
export interface StreamError {
  type: ErrorType;
  message: string;
}
