import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { fitImage, fitRequestImages, MAX_IMAGE_BASE64_CHARS, sniffBase64Format } from '../../src/convert/images.js';
import type { MessagesRequest } from '../../src/anthropic/types.js';

/** A PNG of random noise: compresses badly, so its base64 is large. */
async function noisePng(width: number, height: number): Promise<string> {
  const buf = await sharp({ create: { width, height, channels: 4, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
  return buf.toString('base64');
}

const solid = (format: 'png' | 'gif' | 'jpeg', width = 40, height = 30) =>
  sharp({ create: { width, height, channels: 3, background: '#3366cc' } })
    .toFormat(format)
    .toBuffer()
    .then((b) => b.toString('base64'));

describe('images made fit for Kiro', () => {
  it('reads the format from the magic bytes', async () => {
    expect(sniffBase64Format(await solid('png'))).toBe('png');
    expect(sniffBase64Format(await solid('jpeg'))).toBe('jpeg');
    expect(sniffBase64Format(await solid('gif'))).toBe('gif');
    expect(sniffBase64Format(Buffer.from('not an image').toString('base64'))).toBeUndefined();
  });

  it('scales an oversized PNG to 1568 px on its long side as JPEG quality 85 under the size limit', async () => {
    const big = await noisePng(2600, 1300);
    expect(big.length).toBeGreaterThan(MAX_IMAGE_BASE64_CHARS);
    const fitted = await fitImage(big, 'image/png');
    expect(fitted).toMatchObject({ mediaType: 'image/jpeg', resized: true });
    const meta = await sharp(Buffer.from(fitted.data, 'base64')).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', hasAlpha: false });
    // Noise does not compress: after 1568 px the JPEG is still big, so it is scaled further.
    expect(meta.width! / meta.height!).toBeCloseTo(2, 1);
    expect(meta.width).toBeLessThanOrEqual(1568);
    expect(fitted.data.length).toBeLessThanOrEqual(MAX_IMAGE_BASE64_CHARS);
  });

  it('scales a small file with a long side over 1568 px, and passes an image within both limits as it is', async () => {
    const wide = await solid('png', 3000, 100);
    expect((await fitImage(wide, 'image/png')).resized).toBe(true);
    const small = await solid('png');
    expect(await fitImage(small, 'image/png')).toEqual({ data: small, mediaType: 'image/png', resized: false });
  });

  it('fixes a wrong label, never re-encodes a GIF, and keeps what it cannot decode', async () => {
    const png = await solid('png');
    expect(await fitImage(png, 'image/jpeg')).toEqual({ data: png, mediaType: 'image/png', resized: false });
    const gif = await solid('gif', 3000, 3000);
    expect(await fitImage(gif, 'image/png')).toEqual({ data: gif, mediaType: 'image/gif', resized: false });
    const broken = `${png.slice(0, 40)}${'A'.repeat(MAX_IMAGE_BASE64_CHARS)}`;
    expect(await fitImage(broken, 'image/png')).toEqual({ data: broken, mediaType: 'image/png', resized: false });
  });

  it('fits the image blocks of a request in place and counts the re-encoded ones', async () => {
    const req = {
      model: 'claude-sonnet-4-6',
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: await solid('png', 3000, 100) } }, { type: 'text', text: 'what is it?' }] },
      ],
    } as MessagesRequest;
    expect(await fitRequestImages(req)).toBe(1);
    expect((req.messages[0].content as any)[0].source.media_type).toBe('image/jpeg');
  });
});
