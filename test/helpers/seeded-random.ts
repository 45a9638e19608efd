/** A small deterministic generator (xorshift) giving numbers in [0, 1), so a failure can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}
