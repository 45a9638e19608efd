/**
 * Kiro's empty completion (docs/kiro-protocol-newer.md §2): a 200 with a valid stream that holds no
 * content, 0 output tokens and would end with `end_turn`. Claude Sonnet 5 answers this way above its
 * effective input cap (about 70K tokens, far below its nominal 1M window). Passed on, it looks like
 * a model that chose to say nothing; it is a failure, and the client is told why.
 */
import type { StopReason, StreamError } from '../anthropic/types.js';

/** What the converter produced by the end of the stream. */
export interface CompletionSummary {
  /** Any text, thinking or tool call was sent. */
  hasContent: boolean;
  outputTokens: number;
  stopReason: StopReason;
}

/** The error to end the stream with when the completion is empty, else undefined. */
export function emptyCompletionError(model: string, summary: CompletionSummary): StreamError | undefined {
  // max_tokens / model_context_window_exceeded explain themselves; only a silent end_turn is suspicious.
  if (summary.hasContent || summary.outputTokens > 0 || summary.stopReason !== 'end_turn') return undefined;
  return {
    type: 'api_error',
    message:
      `Kiro returned an empty completion for ${model} (no content, 0 output tokens, end_turn). ` +
      'Kiro does this when the input is above the model\'s effective input cap (about 70K tokens for ' +
      'claude-sonnet-5, whatever its nominal window): shorten the conversation or use another model.',
  };
}
