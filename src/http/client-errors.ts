/**
 * Anthropic-shaped answers for what never reaches Koa: requests Node's HTTP parser rejects
 * (malformed request line, headers over `limits.maxHeaderBytes`, a request head that took too
 * long), `Expect` values other than `100-continue`, and `CONNECT`. Without these listeners Node
 * answers an empty 400/431/408/417 or silently drops the connection.
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorOfStatus, toAnthropicError } from '../errors.js';

/** How long a rejected connection may keep sending (its unread head) before it is destroyed. */
const LINGER_MS = 2_000;

interface ParserError extends Error {
  code?: string;
  reason?: string;
}

/** Status and message for an error Node's parser reported; undefined when nothing can be written back. */
export function describeClientError(err: ParserError, maxHeaderBytes: number): { status: number; message: string } | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: `Request headers exceed the ${maxHeaderBytes}-byte limit (limits.maxHeaderBytes)` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, message: 'Chunk extensions of the request body are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'The request head was not received in time' };
    default: {
      // llhttp's reasons are fixed texts ("Invalid method encountered"), never the request's bytes.
      const reason = typeof err.reason === 'string' && err.reason ? `: ${err.reason}` : '';
      return { status: 400, message: `Malformed HTTP request${reason}${err.code ? ` (${err.code})` : ''}` };
    }
  }
}

/** A complete `Connection: close` response carrying Anthropic's error envelope. */
export function errorResponseBytes(status: number, message: string): string {
  const { body } = toAnthropicError(errorOfStatus(status, message));
  const json = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'content-type: application/json; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(json)}\r\n` +
    `x-should-retry: ${String(status === 408 || status >= 500)}\r\n` +
    'connection: close\r\n\r\n' +
    json
  );
}

/**
 * Writes the answer, half-closes, and keeps reading what the client still sends: closing a socket
 * with unread bytes makes the kernel reset it, and the client would never see the answer.
 */
function answerAndClose(socket: Duplex, status: number, message: string): void {
  socket.end(errorResponseBytes(status, message));
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Attaches the listeners to a server created with `maxHeaderSize: maxHeaderBytes`. */
export function answerClientErrorsAsAnthropic(server: Server, maxHeaderBytes: number): void {
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    const answer = describeClientError(err, maxHeaderBytes);
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (!answer || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, answer.status, answer.message);
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const { body } = toAnthropicError(
      errorOfStatus(417, `Unsupported Expect header "${String(req.headers.expect).slice(0, 40)}": only 100-continue is supported`),
    );
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify(body));
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    answerAndClose(socket, 400, 'CONNECT is not supported: this is an API server, not a proxy');
  });
}
