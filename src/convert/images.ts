/**
 * Images made fit for Kiro before conversion (docs/kiro-protocol-newer.md §7): Kiro has a hard
 * per-field size limit (about 700K base64 characters answer CONTENT_LENGTH_EXCEEDS_THRESHOLD) and
 * does not downscale, and a `format` that disagrees with the bytes is IMAGE_MIME_MISMATCH. So every
 * base64 image gets its format from its magic bytes, and one over 400,000 base64 characters or
 * 1568 px on its long side is scaled to 1568 px (Lanczos) and re-encoded as JPEG quality 85, alpha
 * flattened onto white (and scaled further while the JPEG is still over the size limit). GIFs (possibly animated) are never re-encoded; an image that cannot be
 * decoded is passed on as it came. sharp (libvips, prebuilt as @img/* npm packages) does the work;
 * it is loaded with the first image to measure, so a gateway that never sees one never maps libvips
 * (about 6 MB of resident memory).
 */
import type { ImageBlock, MessagesRequest } from '../anthropic/types.js';

export const MAX_IMAGE_BASE64_CHARS = 400_000;
export const MAX_IMAGE_LONG_SIDE = 1568;
export const IMAGE_JPEG_QUALITY = 85;
const MAX_SHRINK_ROUNDS = 4;

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

const MEDIA_TYPES: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

/** The format the bytes say they are, or undefined for anything else. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return 'gif';
  if (
    bytes.length >= 12 &&
    bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46 &&
    bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50
  ) {
    return 'webp';
  }
  return undefined;
}

/** The format of base64 data from its first bytes (decodes only a prefix). */
export function sniffBase64Format(data: string): ImageFormat | undefined {
  return sniffImageFormat(Buffer.from(data.slice(0, 24), 'base64'));
}

/** A base64 image as Kiro should get it. */
export interface FittedImage {
  data: string;
  mediaType: string;
  /** It was scaled and re-encoded. */
  resized: boolean;
}

/** Makes one base64 image fit Kiro's limits (see the module comment). Never throws. */
export async function fitImage(data: string, mediaType: string): Promise<FittedImage> {
  const format = sniffBase64Format(data);
  const labelled: FittedImage = { data, mediaType: format ? MEDIA_TYPES[format] : mediaType, resized: false };
  if (format === undefined || format === 'gif') return labelled;
  try {
    const sharp = (await import('sharp')).default;
    const bytes = Buffer.from(data, 'base64');
    const image = sharp(bytes, { failOn: 'error' });
    const meta = await image.metadata();
    const longSide = Math.max(meta.width ?? 0, meta.height ?? 0);
    if (data.length <= MAX_IMAGE_BASE64_CHARS && longSide <= MAX_IMAGE_LONG_SIDE) return labelled;
    let side = Math.min(MAX_IMAGE_LONG_SIDE, longSide || MAX_IMAGE_LONG_SIDE);
    let encoded = '';
    // Photos fit at 1568 px; a detailed image may still be over the size limit, so shrink further.
    for (let round = 0; round < MAX_SHRINK_ROUNDS; round++) {
      const out = await sharp(bytes, { failOn: 'error' })
        .rotate() // honour EXIF orientation
        .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: IMAGE_JPEG_QUALITY })
        .toBuffer();
      encoded = out.toString('base64');
      if (encoded.length <= MAX_IMAGE_BASE64_CHARS) break;
      side = Math.max(64, Math.floor(side * Math.sqrt(MAX_IMAGE_BASE64_CHARS / encoded.length) * 0.95));
    }
    return { data: encoded, mediaType: 'image/jpeg', resized: true };
  } catch {
    return labelled;
  }
}

function isBase64Image(block: unknown): block is ImageBlock & { source: { type: 'base64'; media_type: string; data: string } } {
  const b = block as ImageBlock;
  return b?.type === 'image' && b.source?.type === 'base64' && typeof b.source.data === 'string';
}

/** Whether the request's messages hold a base64 image block (images in tool results never reach Kiro). */
export function hasBase64Images(req: MessagesRequest): boolean {
  return (req.messages ?? []).some((m) => typeof m.content !== 'string' && m.content.some(isBase64Image));
}

/**
 * Fits every base64 image block of the request's messages in place (images inside tool results are
 * not forwarded to Kiro, so they are left alone); resolves with how many were re-encoded. Requests without images cost one walk over the blocks.
 */
export async function fitRequestImages(req: MessagesRequest): Promise<number> {
  const blocks: Array<ImageBlock & { source: { type: 'base64'; media_type: string; data: string } }> = [];
  for (const message of req.messages ?? []) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (isBase64Image(block)) blocks.push(block);
    }
  }
  if (blocks.length === 0) return 0;
  let resized = 0;
  await Promise.all(
    blocks.map(async (block) => {
      const fitted = await fitImage(block.source.data, block.source.media_type);
      block.source = { type: 'base64', media_type: fitted.mediaType, data: fitted.data };
      if (fitted.resized) resized++;
    }),
  );
  return resized;
}
