/**
 * The content of one user turn in Kiro's shape: its text, its images (docs/kiro-protocol.md §4.4)
 * and its tool results (§4.3 step 10). Consecutive user turns are merged into one (history.ts).
 */
import type { ContentBlockParam, ImageBlock, MessageParam, ToolResultBlock } from '../anthropic/types.js';
import type { KiroImage, KiroToolResult } from '../kiro/types.js';
import { InvalidRequestError } from '../errors.js';

const IMAGE_FORMATS: Readonly<Record<string, KiroImage['format']>> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/**
 * §4.4: base64 images of the four supported types. Kiro takes image bytes only and the gateway
 * fetches nothing (a URL would let any client make it call internal addresses), so an image by URL
 * or Files API id is refused rather than dropped: the model would otherwise answer without it.
 */
function toKiroImage(block: ImageBlock): KiroImage | undefined {
  const source = block.source as { type?: string; media_type: string; data: string };
  if (source?.type !== 'base64') {
    throw new InvalidRequestError(
      `An image with source type "${String(source?.type)}" cannot be sent to Kiro, which takes image bytes only (the gateway fetches no URLs and has no Files API): send it as a base64 source.`,
    );
  }
  const format = IMAGE_FORMATS[source.media_type];
  return format ? { format, source: { bytes: source.data } } : undefined;
}

/**
 * What stands in a tool result for an image it returned (Claude Code's Read tool on a screenshot):
 * Kiro's tool results carry text only, and kiro.rs drops such images without a word, so the model
 * would answer as if it had seen the picture.
 */
export const TOOL_RESULT_IMAGE_NOTICE = '[An image was returned here; this gateway cannot pass images inside tool results to the model.]';

/**
 * §4.3 step 10: string → text, array → its items' `text` joined by `\n` (an image item → {@link
 * TOOL_RESULT_IMAGE_NOTICE}), other JSON → JSON.
 */
function toolResultText(content: ToolResultBlock['content'] | null): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    let first = true;
    for (const item of content) {
      const text = (item as { type?: unknown }).type === 'image' ? TOOL_RESULT_IMAGE_NOTICE : (item as { text?: unknown }).text;
      if (typeof text !== 'string') continue;
      out = first ? text : `${out}\n${text}`;
      first = false;
    }
    return out;
  }
  return JSON.stringify(content);
}

function toKiroToolResult(block: ToolResultBlock): KiroToolResult {
  const result: KiroToolResult = {
    toolUseId: block.tool_use_id,
    content: [{ text: toolResultText(block.content) }],
    status: block.is_error ? 'error' : 'success',
  };
  if (block.is_error) result.isError = true;
  return result;
}

interface DocumentBlock {
  type: 'document';
  source?: { type?: string; data?: unknown; media_type?: unknown };
  title?: unknown;
}

/**
 * A document Kiro has no field for: a plain-text one is passed as text; of any other (a PDF) the
 * model is told that it was attached and not passed on, so it can say so instead of answering as if
 * it had read it.
 */
function documentText(block: DocumentBlock): string {
  const source = block.source;
  const title = typeof block.title === 'string' && block.title !== '' ? ` "${block.title}"` : '';
  if (source?.type === 'text' && typeof source.data === 'string') return `<document${title}>\n${source.data}\n</document>`;
  const kind = typeof source?.media_type === 'string' ? source.media_type : String(source?.type ?? 'unknown');
  return `[A document${title} (${kind}) was attached here; this gateway cannot pass it to the model.]`;
}

/** Accumulates the parts of one (possibly merged) user turn. */
export class UserParts {
  texts: string[] = [];
  images: KiroImage[] = [];
  toolResults: KiroToolResult[] = [];

  /** `role: "system"` messages contribute their text only. */
  add(message: MessageParam, textOnly: boolean): void {
    const content = message.content;
    if (typeof content === 'string') {
      if (content !== '') this.texts.push(content);
      return;
    }
    for (const block of content as ContentBlockParam[]) {
      if (block.type === 'text') {
        const text = (block as { text: string }).text;
        if (text !== '') this.texts.push(text);
      } else if (textOnly) {
        continue;
      } else if (block.type === 'image') {
        const image = toKiroImage(block as ImageBlock);
        if (image) this.images.push(image);
      } else if (block.type === 'tool_result') {
        this.toolResults.push(toKiroToolResult(block as ToolResultBlock));
      } else if (block.type === 'document') {
        this.texts.push(documentText(block as DocumentBlock));
      }
    }
  }
}
