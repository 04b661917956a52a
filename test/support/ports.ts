/**
 * Loopback ports for the engines the tests start themselves (mosquitto, Redis, PostgreSQL, an
 * RTSP server): a free one to give them, and a wait until one accepts connections.
 */
import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (closed again before it is returned: the engine binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once something accepts connections on 127.0.0.1:`port`; rejects after `timeoutMs`
 * (naming `what`), or at once when `gone()` says the engine exited.
 */
export async function accepting(port: number, timeoutMs: number, what: string, gone: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error(`${what} exited before it accepted connections on 127.0.0.1:${port}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not accept connections on 127.0.0.1:${port} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
