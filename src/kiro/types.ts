/**
 * Kiro (CodeWhisperer generateAssistantResponse) wire types and the decoded event model.
 * See docs/kiro-protocol.md §4 and §6.
 */

export interface KiroImage {
  format: 'png' | 'jpeg' | 'gif' | 'webp';
  source: { bytes: string };
}

export interface KiroToolResult {
  toolUseId: string;
  content: Array<{ text: string }>;
  status: 'success' | 'error';
  isError?: boolean;
}

export interface KiroToolSpecification {
  toolSpecification: {
    name: string;
    description: string;
    inputSchema: { json: Record<string, unknown> };
  };
}

export interface KiroUserInputMessage {
  content: string;
  modelId: string;
  origin: 'AI_EDITOR';
  images?: KiroImage[];
  userInputMessageContext?: {
    toolResults?: KiroToolResult[];
    /** Shared with other requests (the converted tool list is cached): never written to. */
    tools?: readonly KiroToolSpecification[];
  };
}

export interface KiroToolUse {
  toolUseId: string;
  name: string;
  input: unknown;
}

export interface KiroAssistantResponseMessage {
  content: string;
  toolUses?: KiroToolUse[];
}

export type KiroHistoryEntry =
  | { userInputMessage: KiroUserInputMessage }
  | { assistantResponseMessage: KiroAssistantResponseMessage };

export interface KiroRequestBody {
  conversationState: {
    agentContinuationId: string;
    agentTaskType: 'vibe';
    chatTriggerType: 'MANUAL';
    conversationId: string;
    currentMessage: { userInputMessage: KiroUserInputMessage };
    history?: KiroHistoryEntry[];
  };
  /** Injected per credential at send time; omitted when the credential has none. */
  profileArn?: string;
}

/** A decoded event-stream frame's header value (all ten wire types). */
export type FrameHeaderValue =
  | { type: 'boolean'; value: boolean }
  | { type: 'byte' | 'short' | 'integer'; value: number }
  | { type: 'long' | 'timestamp'; value: bigint }
  | { type: 'binary' | 'uuid'; value: Uint8Array }
  | { type: 'string'; value: string };

/** One AWS event-stream message. `payload` is a view into the decoder's buffer; copy to keep it. */
export interface Frame {
  headers: Record<string, FrameHeaderValue>;
  payload: Uint8Array;
}

/** Kiro events after frame parsing: what the converter consumes. */
export type KiroEvent =
  | { kind: 'text'; content: string }
  | { kind: 'toolUse'; toolUseId: string; name: string; input: string; stop: boolean }
  | { kind: 'contextUsage'; percentage: number }
  | { kind: 'metering'; usage: number | undefined }
  /** reasoningContentEvent (newer notes §5): thinking text, and at the end Kiro's signature of it. */
  | { kind: 'reasoning'; text: string; signature: string | undefined }
  /** `:message-type` exception (e.g. ContentLengthExceededException). */
  | { kind: 'exception'; exceptionType: string; message: string }
  /** `:message-type` error. */
  | { kind: 'error'; errorCode: string; message: string };
