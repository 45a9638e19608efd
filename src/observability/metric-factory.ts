/**
 * Creates the gateway's metrics on one registry with one name prefix, for the metric groups
 * (http-metrics.ts, response-metrics.ts, upstream-metrics.ts, store-metrics.ts, admission-metrics.ts).
 */
import { Gauge, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './metric-primitives.js';

/**
 * Series whose labels are not a fixed set (route × method × status, credential ids, Redis commands)
 * are cached up to this many; past it a series is still recorded, just looked up each time.
 */
export const LABEL_CACHE_LIMIT = 1024;

export class MetricFactory {
  constructor(
    readonly registry: Registry,
    readonly prefix: string,
  ) {}

  counter(name: string, help: string): FastCounter {
    return new FastCounter(`${this.prefix}${name}`, help, this.registry);
  }

  histogram(name: string, help: string, bounds: readonly number[]): FastHistogram {
    return new FastHistogram(`${this.prefix}${name}`, help, this.registry, bounds);
  }

  /** A gauge whose value is read when scraped. */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name: `${this.prefix}${name}`,
      help,
      registers: [this.registry],
      collect: function (this: Gauge): void {
        this.set(read());
      },
    });
  }
}

/** One series per value of a fixed label set, created (at 0) up front so rate() and dashboards see every series. */
export function perValue<V extends string, C>(values: readonly V[], make: (v: V) => C): Record<V, C> {
  return Object.fromEntries(values.map((v) => [v, make(v)])) as Record<V, C>;
}
