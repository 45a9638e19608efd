/**
 * Health gauges of the gateway metrics, computed at scrape time: `ready` (what `/readyz` answers)
 * and `store_degraded` (serving from the local copy because Redis is unreachable). Alerts and the
 * Redis dashboard read these; a scrape that fails altogether is Prometheus' own `up == 0`.
 */
import { Gauge, type Registry } from 'prom-client';

/** What the health gauges read when scraped (cheap and synchronous). */
export interface HealthState {
  /** True when `/readyz` would answer 200 (store usable, not draining). */
  ready: boolean;
  /** True while the shared store (Redis) is unreachable and the local copy is served. */
  degraded: boolean;
}

/** Registers `ready` and `store_degraded` (names prefixed by `prefix`); both read 0 until a source is set. */
export function registerHealthGauges(registry: Registry, prefix: string, state: () => HealthState | undefined): void {
  const registers = [registry];
  new Gauge({
    name: `${prefix}ready`,
    help: '1 when this replica is ready to serve (what /readyz answers with 200), 0 otherwise (scrape time).',
    registers,
    collect: function (this: Gauge): void {
      this.set(state()?.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: `${prefix}store_degraded`,
    help: '1 while the shared credential store (Redis) is unreachable and the local copy is served (scrape time).',
    registers,
    collect: function (this: Gauge): void {
      this.set(state()?.degraded ? 1 : 0);
    },
  });
}
