/**
 * Answers read whole in tests: the body's text, and the JSON it holds when it holds JSON (error
 * envelopes, admin answers) without failing on what does not (SSE, plain text, an empty body).
 */

/** `JSON.parse(text)`, or `otherwise` when the text is not JSON. */
export function parseJsonOr(text: string, otherwise?: unknown): any {
  try {
    return JSON.parse(text);
  } catch {
    return otherwise;
  }
}

/** A fetch answer read whole; `json` is undefined when the body is not JSON. */
export interface WholeAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Reads the whole body of a fetch answer. */
export async function readWhole(res: Response): Promise<WholeAnswer> {
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: parseJsonOr(text) };
}
