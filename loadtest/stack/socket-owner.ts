/**
 * Which process owns a TCP connection, from what the far end saw (Linux /proc): the kernel lists
 * every socket with its local port and inode in /proc/net/tcp{,6}, and a process' open sockets are
 * `socket:[inode]` links in /proc/<pid>/fd. Lets a test find, say, the replica whose refresh call
 * the simulator is holding, without knowing how the replicas decided who makes it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Inodes of the sockets whose local port is `localPort` and remote port `remotePort`. */
function socketInodes(localPort: number, remotePort: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const port = (address: string) => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (port(cols[1]!) === localPort && port(cols[2]!) === remotePort) inodes.add(cols[9]!);
    }
  }
  return inodes;
}

/**
 * The one of `candidates` (pids) holding the connection from local port `clientPort` to
 * `serverPort` on this machine, or undefined when none does (closed meanwhile, or another process').
 */
export function pidOwningConnection(clientPort: number, serverPort: number, candidates: readonly number[]): number | undefined {
  const inodes = socketInodes(clientPort, serverPort);
  if (inodes.size === 0) return undefined;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) return pid;
    }
  }
  return undefined;
}
