/**
 * Values remembered by a long text that clients resend unchanged (Claude Code's tool list, system
 * prompt and first message, with every turn). A Map keyed by the text would hash all of it on
 * every lookup, which costs more than the work saved; here texts are grouped by length and
 * compared by value (a memcmp). Past `capacity` texts, the oldest text of the least recently used
 * length is dropped (recency is kept per length: a few texts at most share one).
 * Used by anthropic/messages-body.ts (parsed tool lists) and kiro/wire-body.ts (JSON of texts).
 */
export interface MemoEntry<V> {
  readonly text: string;
  readonly value: V;
}

export class LongTextMemo<V> {
  /** By text length; Map order is the LRU order of the lengths (a hit moves its length to the end). */
  private readonly byLength = new Map<number, Array<MemoEntry<V>>>();
  private count = 0;

  constructor(private readonly capacity: number) {}

  /** The value remembered for exactly `text`. */
  get(text: string): V | undefined {
    const bucket = this.byLength.get(text.length);
    if (!bucket) return undefined;
    for (const entry of bucket) {
      if (entry.text === text) {
        this.touch(text.length, bucket);
        return entry.value;
      }
    }
    return undefined;
  }

  /** A remembered text that `text` holds at `start`, whatever its length, with its value. */
  findAt(text: string, start: number): MemoEntry<V> | undefined {
    for (const [length, bucket] of this.byLength) {
      const end = start + length;
      if (end > text.length) continue;
      const candidate = text.slice(start, end);
      for (const entry of bucket) {
        if (entry.text === candidate) {
          this.touch(length, bucket);
          return entry;
        }
      }
    }
    return undefined;
  }

  /** Remembers `value` for `text`, dropping the least recently used text when full. */
  set(text: string, value: V): void {
    if (this.count >= this.capacity) this.dropOldest();
    const bucket = this.byLength.get(text.length) ?? [];
    bucket.push({ text, value });
    this.touch(text.length, bucket);
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  private touch(length: number, bucket: Array<MemoEntry<V>>): void {
    this.byLength.delete(length);
    this.byLength.set(length, bucket);
  }

  private dropOldest(): void {
    const [length, oldest] = this.byLength.entries().next().value!;
    oldest.shift();
    if (oldest.length === 0) this.byLength.delete(length);
    this.count--;
  }
}
