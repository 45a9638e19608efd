/**
 * The bench's floor: the least a Node proxy in front of Kiro can cost. A bare `node:http` server
 * that reads each request body, sends it unchanged to `<upstream>/generateAssistantResponse` with
 * undici's `request` (kept-alive connections, as the gateway), and pipes the answer's bytes back.
 * No parsing, conversion, authentication, metrics or logging: what is left is the HTTP work that
 * any gateway written in Node pays on both sides. The bench sends it Kiro bodies and reads the
 * raw event stream, so the simulator does the same work behind it as behind the gateway.
 *
 *   node dist/bench/passthrough.js --upstream http://127.0.0.1:8990   (prints its URL once listening)
 */
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string' } } });
if (!values.upstream) throw new Error('--upstream <url> is required');
const target = `${values.upstream}/generateAssistantResponse`;
const dispatcher = new Agent({ keepAliveTimeout: 600_000 });

const server = createServer({ keepAliveTimeout: 65_000 }, async (req, res) => {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const upstream = await request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body: Buffer.concat(chunks),
      dispatcher,
    });
    res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'application/octet-stream') });
    await pipeline(upstream.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }
});

server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(`passthrough listening on http://127.0.0.1:${address.port}`);
});
