/**
 * Server-sent-event encoding of Anthropic stream events (docs/kiro-protocol.md §7): each event is
 * `event: <type>\ndata: <compact JSON>\n\n`.
 *
 * The delta events are written by hand because they are the per-token hot path; their JSON is
 * byte-identical to `JSON.stringify(event)` (the string payload is still escaped by
 * `JSON.stringify`), which the tests check. Hand-built events carry exactly the fields of the
 * `StreamEvent` type, in that order.
 */

import type { StreamEvent } from '../anthropic/types.js';

/**
 * Response headers of every SSE response. `x-accel-buffering: no` tells nginx (and proxies that
 * honour it) not to hold the stream back, so a proxy nobody configured for SSE still streams.
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
});

/** Anthropic's keep-alive event, byte for byte (note the space after the colon). */
export const SSE_PING = 'event: ping\ndata: {"type": "ping"}\n\n';

const DELTA_HEAD = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":';
const STOP_HEAD = 'event: content_block_stop\ndata: {"type":"content_block_stop","index":';
const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

/** Encodes one event as an SSE record. */
export function encodeSseEvent(event: StreamEvent): string {
  switch (event.type) {
    case 'content_block_delta': {
      const d = event.delta;
      switch (d.type) {
        case 'text_delta':
          return DELTA_HEAD + event.index + ',"delta":{"type":"text_delta","text":' + JSON.stringify(d.text) + '}}\n\n';
        case 'input_json_delta':
          return (
            DELTA_HEAD + event.index + ',"delta":{"type":"input_json_delta","partial_json":' + JSON.stringify(d.partial_json) + '}}\n\n'
          );
        case 'thinking_delta':
          return DELTA_HEAD + event.index + ',"delta":{"type":"thinking_delta","thinking":' + JSON.stringify(d.thinking) + '}}\n\n';
        default:
          return DELTA_HEAD + event.index + ',"delta":' + JSON.stringify(d) + '}\n\n';
      }
    }
    case 'content_block_stop':
      return STOP_HEAD + event.index + '}\n\n';
    case 'message_stop':
      return MESSAGE_STOP;
    case 'ping':
      return SSE_PING;
    default:
      return 'event: ' + event.type + '\ndata: ' + JSON.stringify(event) + '\n\n';
  }
}

/**
 * Encodes a batch of events (typically everything one upstream chunk produced) into a single
 * string, so the caller makes one socket write per upstream chunk.
 */
export function encodeSseEvents(events: readonly StreamEvent[]): string {
  let out = '';
  for (let i = 0; i < events.length; i++) out += encodeSseEvent(events[i]);
  return out;
}
