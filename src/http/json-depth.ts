/**
 * A bound on how deeply client JSON may nest. Every walk over request data (validation, schema
 * clean-up, token estimates, `JSON.stringify` of the Kiro body, which V8 stops at a few thousand
 * levels) recurses, so depth is checked once, iteratively, right after parsing: nothing recursive
 * ever sees a deeper value.
 */

/**
 * Deepest nesting accepted, counting the request body itself as level 1. A Messages request uses
 * about 6 levels before any tool input or schema starts; real tool schemas stay well under 30.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Deepest tool input accepted from the upstream: the client echoes tool calls back in its history,
 * about 6 levels down, and that request must still fit {@link MAX_JSON_DEPTH}.
 */
export const MAX_TOOL_INPUT_DEPTH = MAX_JSON_DEPTH - 16;

/** Whether `value` nests objects/arrays more than `limit` levels deep. Iterative: any depth is safe. */
export function exceedsJsonDepth(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[node: object, depth: number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
