/**
 * pidOwningConnection finds the process behind a connection from the port its peer saw: a child
 * process connects to a server here; the server's view of the client port must lead to the child.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { pidOwningConnection } from '../../loadtest/stack/socket-owner.js';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((fn) => fn()));

describe('pidOwningConnection', () => {
  it('names the process that owns a connection, by the client port the server saw', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => server.close());
    const serverPort = (server.address() as { port: number }).port;
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const child = spawn(process.execPath, ['-e', `require('net').connect(${serverPort}, '127.0.0.1'); setInterval(() => {}, 1000);`], { stdio: 'ignore' });
    cleanups.push(() => child.kill('SIGKILL'));
    const [socket] = await accepted;
    cleanups.push(() => socket.destroy());
    const clientPort = socket.remotePort!;

    expect(pidOwningConnection(clientPort, serverPort, [process.pid, child.pid!])).toBe(child.pid);
    // Not among the candidates, or a port with no such connection: nobody.
    expect(pidOwningConnection(clientPort, serverPort, [process.pid])).toBeUndefined();
    expect(pidOwningConnection(clientPort, serverPort + 1, [child.pid!])).toBeUndefined();
  });
});
