// Retries as the Anthropic SDKs do (they retry connection errors, 408, 409, 429 and 5xx, twice by
// default, waiting the answer's `retry-after`): a 529 + retry-after from a replica that lost a
// refresh race during a Redis outage, or from a saturated replica, is a retryable answer, not a lost
// request. K6_MAX_RETRIES (default 2) sets how often; the wait is capped at K6_RETRY_AFTER_CAP_S
// (default 5 s).
import http from 'k6/http';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { numberEnv } from './config.js';

const MAX_RETRIES = numberEnv('K6_MAX_RETRIES', 2);
const RETRY_AFTER_CAP_S = numberEnv('K6_RETRY_AFTER_CAP_S', 5);
/** How often the SDKs retry by default (maxRetries). */
export const SDK_DEFAULT_RETRIES = 2;
export const retries = new Counter('retries');
/** Retried answers that were 529 overloaded_error with retry-after (a replica said "try another"). */
export const retriedOverloaded = new Counter('retried_overloaded');
/** Retried answers of any other kind (502/503 from the balancer, 429, connection errors, …). */
export const retriedOther = new Counter('retried_other');

function retryable(res) {
  // No answer at all (connection refused or reset before the head): the SDKs retry connection errors.
  if (res.status === 0) return !res.body;
  if (res.headers['X-Should-Retry'] === 'false' || res.headers['x-should-retry'] === 'false') return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

/** `http.post` with the SDKs' retry rule; returns the last answer and how many attempts it took. */
export function postWithRetries(url, body, params) {
  let res = http.post(url, body, params);
  let attempts = 1;
  for (; attempts <= MAX_RETRIES && retryable(res); attempts++) {
    const header = Number(res.headers['Retry-After'] || res.headers['retry-after']);
    const waitS = Number.isFinite(header) && header > 0 ? Math.min(header, RETRY_AFTER_CAP_S) : Math.min(0.5 * 2 ** (attempts - 1), 8);
    retries.add(1);
    if (res.status === 529 && header > 0) retriedOverloaded.add(1);
    else retriedOther.add(1);
    sleep(waitS);
    res = http.post(url, body, params);
  }
  return { res, attempts };
}
