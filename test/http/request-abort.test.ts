import { describe, expect, it } from 'vitest';
import { RequestAbort, type AbortLike } from '../../src/http/request-abort.js';

/** The same script run on a RequestAbort and on a real AbortController (the oracle): what each saw. */
function script(make: () => { target: AbortLike; abort: (reason?: unknown) => void }) {
  const { target, abort } = make();
  const seen: string[] = [];
  const a = () => seen.push(`a:${target.aborted}`);
  const b = () => {
    seen.push('b');
    target.removeEventListener('abort', c);
  };
  const c = () => seen.push('c');
  const d = () => seen.push('d');
  target.addEventListener('abort', a);
  target.addEventListener('abort', b, { once: true });
  target.addEventListener('abort', c);
  target.addEventListener('abort', d);
  target.removeEventListener('abort', d);
  target.removeEventListener('abort', () => {});
  seen.push(`before:${target.aborted}:${String(target.reason)}`);
  expect(() => target.throwIfAborted()).not.toThrow();
  const reason = new Error('gone');
  abort(reason);
  abort(new Error('again'));
  target.addEventListener('abort', () => seen.push('late'));
  let thrown: unknown;
  try {
    target.throwIfAborted();
  } catch (err) {
    thrown = err;
  }
  return { seen, sameReason: target.reason === reason, thrownReason: thrown === reason };
}

describe('RequestAbort', () => {
  it('behaves as an AbortController and its signal: order, removal during dispatch, one abort, its reason', () => {
    const ours = script(() => {
      const r = new RequestAbort();
      return { target: r, abort: (reason) => r.abort(reason) };
    });
    const real = script(() => {
      const c = new AbortController();
      return { target: c.signal, abort: (reason) => c.abort(reason) };
    });
    expect(ours).toEqual(real);
    expect(ours.seen).toEqual(['before:false:undefined', 'a:true', 'b']);
  });

  it('aborts with an AbortError DOMException when given no reason, as AbortController does', () => {
    const r = new RequestAbort();
    r.abort();
    const c = new AbortController();
    c.abort();
    expect(r.reason).toBeInstanceOf(DOMException);
    expect((r.reason as DOMException).name).toBe((c.signal.reason as DOMException).name);
  });

  it('gives a real AbortSignal that aborts with it, made before or after the abort', () => {
    const before = new RequestAbort();
    const signal = before.signal;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(before.signal).toBe(signal);
    let fired = 0;
    signal.addEventListener('abort', () => fired++);
    const reason = new Error('stop');
    before.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(fired).toBe(1);

    const after = new RequestAbort();
    after.abort(reason);
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe(reason);
  });

  it('runs every listener when one throws, and reports the error afterwards', async () => {
    const r = new RequestAbort();
    const seen: string[] = [];
    r.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    r.addEventListener('abort', () => seen.push('second'));
    const reported = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    r.abort(new Error('x'));
    expect(seen).toEqual(['second']);
    expect(((await reported) as Error).message).toBe('listener failed');
  });

  it('keeps no trace of listeners added and removed around each wait (a long stream with many drains)', () => {
    const r = new RequestAbort();
    const kept = () => {};
    r.addEventListener('abort', kept);
    for (let i = 0; i < 10_000; i++) {
      const wait = () => {};
      r.addEventListener('abort', wait);
      r.removeEventListener('abort', wait);
    }
    expect((r as unknown as { listeners: unknown[] }).listeners).toHaveLength(1);
    let ran = 0;
    r.addEventListener('abort', () => ran++);
    r.abort();
    expect(ran).toBe(1);
  });
});
