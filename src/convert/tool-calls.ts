/**
 * Tool calls in a Kiro stream (docs/kiro-protocol.md §7.2, §12.1): their input arrives in chunks
 * and is only usable once the call's `stop:true` came with a complete JSON object. This module
 * buffers the chunks per call and words the notices that replace calls the upstream cut off.
 */

import { exceedsJsonDepth, MAX_TOOL_INPUT_DEPTH } from '../http/json-depth.js';

/** A tool call being received. */
export interface PendingTool {
  /** The client's original name. */
  name: string;
  input: string;
}

/**
 * A tool input must be a JSON object; empty input means `{}`. One nested deeper than
 * MAX_TOOL_INPUT_DEPTH is unusable too: the client could not send it back in its history.
 */
export function isCompleteInput(input: string): boolean {
  if (input.length === 0) return true;
  try {
    const value: unknown = JSON.parse(input);
    return typeof value === 'object' && value !== null && !Array.isArray(value) && !exceedsJsonDepth(value, MAX_TOOL_INPUT_DEPTH);
  } catch {
    return false;
  }
}

/** What the model should do instead of repeating a call that was too large to come through. */
function retryAdvice(name: string): string {
  switch (name) {
    case 'Write':
      return 'Retry with smaller steps: write at most ~50 lines per call and append the rest with Edit.';
    case 'Edit':
    case 'MultiEdit':
      return 'Retry with smaller steps: change at most ~50 lines per Edit call.';
    default:
      return 'Retry it, splitting large inputs over several smaller calls.';
  }
}

/** Text replacing a call the stream ended in the middle of (no `stop:true` came). */
export function truncatedToolNotice(name: string): string {
  return (
    `[kiro-gateway: the tool call \`${name}\` was cut off by the upstream output limit before it ` +
    `finished and was not executed. ${retryAdvice(name)}]`
  );
}

/** Text replacing a finished call whose input is not a JSON object. */
export function malformedToolNotice(name: string): string {
  return (
    `[kiro-gateway: the tool call \`${name}\` arrived with input that is not a valid JSON object ` +
    `(probably cut off by the upstream output limit) and was not executed. ${retryAdvice(name)}]`
  );
}

/** Collects the input chunks of tool calls by id until each call's `stop:true`. */
export class ToolCallBuffer {
  private readonly pending = new Map<string, PendingTool>();
  /** Ids already sent or dropped, so a repeated `stop:true` cannot produce a second block. */
  private readonly doneToolIds = new Set<string>();

  /** @param toolNameMap Kiro tool name → the client's original name (names are shortened upstream). */
  constructor(private readonly toolNameMap: ReadonlyMap<string, string>) {}

  /** True when call `id` was already completed (sent or dropped): ignore further chunks. */
  isDone(id: string): boolean {
    return this.doneToolIds.has(id);
  }

  /**
   * Adds a chunk of call `id`. Returns the whole call when `stop` ends it (it is then done), else
   * undefined. Check `isDone` first.
   */
  add(id: string, name: string, input: string, stop: boolean): PendingTool | undefined {
    let tool = this.pending.get(id);
    if (!stop) {
      if (tool) tool.input += input;
      else this.pending.set(id, { name: this.toolNameMap.get(name) ?? name, input });
      return undefined;
    }
    if (tool) {
      tool.input += input;
      this.pending.delete(id);
    } else {
      tool = { name: this.toolNameMap.get(name) ?? name, input };
    }
    this.doneToolIds.add(id);
    return tool;
  }

  /** Calls still waiting for their `stop:true`, in arrival order. */
  unfinished(): IterableIterator<PendingTool> {
    return this.pending.values();
  }

  /** Forgets the unfinished calls. */
  clear(): void {
    this.pending.clear();
  }
}
