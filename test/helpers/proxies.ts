/**
 * Real forward proxies for credentials' `proxyUrl`: an HTTP proxy that answers CONNECT, and a SOCKS5
 * proxy (RFC 1928 CONNECT, RFC 1929 username/password or no authentication). Both open a real TCP
 * connection to the target and relay bytes both ways, and record every tunnel they opened
 * (`host:port`), so a test can tell which calls went through them.
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TestProxy {
  readonly url: string;
  /** `host:port` of every tunnel opened, in order. */
  readonly tunnels: string[];
  close(): Promise<void>;
}

function relay(client: Socket, host: string, port: number, onOpen: (upstream: Socket) => void): void {
  const upstream = connect(port, host, () => {
    onOpen(upstream);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server & { closeAllConnections?: () => void }, sockets: Set<Socket>): () => Promise<void> {
  return async () => {
    server.closeAllConnections?.();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
}

/** An HTTP proxy answering CONNECT. */
export async function startConnectProxy(): Promise<TestProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer();
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    tunnels.push(target);
    sockets.add(client);
    const [host, port] = target.split(':');
    relay(client, host!, Number(port), (upstream) => {
      sockets.add(upstream);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, tunnels, close: closer(server, sockets) };
}

/** A SOCKS5 proxy; with `auth`, clients must offer username/password and send these. */
export async function startSocks5Proxy(auth?: { username: string; password: string }): Promise<TestProxy & { refusedLogins: number }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const state = { refusedLogins: 0 };
  const server = createTcpServer((client) => {
    sockets.add(client);
    client.on('error', () => client.destroy());
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'login' | 'request' = 'greeting';
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'greeting') {
        if (buffered.length < 2 || buffered.length < 2 + buffered[1]!) return;
        const methods = [...buffered.subarray(2, 2 + buffered[1]!)];
        buffered = buffered.subarray(2 + buffered[1]!);
        const wanted = auth ? 0x02 : 0x00;
        if (buffered.length > 0 || !methods.includes(wanted)) return void client.end(Buffer.from([0x05, 0xff]));
        client.write(Buffer.from([0x05, wanted]));
        stage = auth ? 'login' : 'request';
        return;
      }
      if (stage === 'login') {
        const userLength = buffered[1];
        if (userLength === undefined || buffered.length < 3 + userLength) return;
        const passLength = buffered[2 + userLength]!;
        if (buffered.length < 3 + userLength + passLength) return;
        const username = buffered.subarray(2, 2 + userLength).toString('utf8');
        const password = buffered.subarray(3 + userLength, 3 + userLength + passLength).toString('utf8');
        buffered = buffered.subarray(3 + userLength + passLength);
        if (username !== auth!.username || password !== auth!.password) {
          state.refusedLogins++;
          return void client.end(Buffer.from([0x01, 0x01]));
        }
        client.write(Buffer.from([0x01, 0x00]));
        stage = 'request';
        return;
      }
      // VER CMD RSV ATYP DST.ADDR DST.PORT; CONNECT only, IPv4 or a domain name.
      if (buffered.length < 5) return;
      const atyp = buffered[3];
      const addressEnd = atyp === 0x01 ? 8 : atyp === 0x03 ? 5 + buffered[4]! : -1;
      if (buffered[1] !== 0x01 || addressEnd < 0) return void client.end(Buffer.from([0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
      if (buffered.length < addressEnd + 2) return;
      const host = atyp === 0x01 ? [...buffered.subarray(4, 8)].join('.') : buffered.subarray(5, addressEnd).toString('utf8');
      const port = buffered.readUInt16BE(addressEnd);
      const rest = buffered.subarray(addressEnd + 2);
      client.off('data', onData);
      client.pause(); // until the tunnel is open: pipe() resumes it
      tunnels.push(`${host}:${port}`);
      relay(client, host, port, (upstream) => {
        sockets.add(upstream);
        client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0, 0]));
        if (rest.length > 0) upstream.write(rest);
      });
    };
    client.on('data', onData);
  });
  const port = await listen(server);
  return {
    url: `socks5://127.0.0.1:${port}`,
    tunnels,
    get refusedLogins() {
      return state.refusedLogins;
    },
    close: closer(server, sockets),
  };
}
