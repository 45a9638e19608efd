/**
 * The content of one user turn in Kiro's shape: its text, its images (docs/kiro-protocol.md §4.4)
 * and its tool results (§4.3 step 10). Consecutive user turns are merged into one (history.ts).
 */
import type { ContentBlockParam, ImageBlock, MessageParam, ToolResultBlock } from '../anthropic/types.js';
import type { KiroImage, KiroToolResult } from '../kiro/types.js';

const IMAGE_FORMATS: Readonly<Record<string, KiroImage['format']>> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** §4.4: base64 images of the four supported types; anything else is dropped. */
function toKiroImage(block: ImageBlock): KiroImage | undefined {
  const source = block.source;
  if (source?.type !== 'base64') return undefined;
  const format = IMAGE_FORMATS[source.media_type];
  return format ? { format, source: { bytes: source.data } } : undefined;
}

/** §4.3 step 10: string → text, array → its items' `text` joined by `\n`, other JSON → JSON. */
function toolResultText(content: ToolResultBlock['content'] | null): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    let first = true;
    for (const item of content) {
      const text = (item as { text?: unknown }).text;
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
      }
    }
  }
}
