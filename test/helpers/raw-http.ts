/**
 * HTTP over a bare TCP socket: the request line and headers go out byte for byte, so paths such as
 * `/api/admin/./x`, `%2F` or absolute-form targets reach the server without any client normalising
 * them, and malformed requests can be sent at all.
 */
import net from 'node:net';

export interface RawResponse {
  /** 0 when the server closed or reset the connection without an answer. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
  /** Set when the socket failed (e.g. ECONNRESET) before a full answer arrived. */
  socketError?: string;
}

/** Sends `head` (everything up to and including the blank line) and `body`, reads until the server closes. */
export function rawExchange(url: string, head: string | Buffer, body: string | Buffer = '', timeoutMs = 5_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let socketError: string | undefined;
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(head);
      if (body.length) socket.write(body);
    });
    const timer = setTimeout(() => {
      socketError = 'timeout';
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseResponse(Buffer.concat(chunks).toString('latin1')), ...(socketError ? { socketError } : {}) });
    });
  });
}

/** One request on its own connection (`Connection: close`), with a JSON body when given. */
export function rawRequest(
  url: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<RawResponse> {
  const { host } = new URL(url);
  const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const all: Record<string, string> = { host, connection: 'close', ...headers };
  if (payload) {
    all['content-type'] ??= 'application/json';
    all['content-length'] = String(Buffer.byteLength(payload));
  }
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}`);
  return rawExchange(url, `${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, payload);
}

function parseResponse(text: string): Omit<RawResponse, 'socketError'> {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: text, json: undefined };
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let latin1 = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') latin1 = dechunk(latin1);
  const body = Buffer.from(latin1, 'latin1').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd < 0) return out + rest;
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!size) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 4 + size);
  }
}
