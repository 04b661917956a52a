/**
 * Redis in tests, real: Debian's redis-server in a temporary directory on a free loopback port,
 * with no persistence (a killed server forgets everything, as a test expects) and no protected
 * mode games: it binds 127.0.0.1 only.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { accepting, freePort } from './ports.js';

/** redis-server on the PATH or in Debian's place (REDIS_SERVER names another), or null. */
export function redisServerPath(): string | null {
  const candidates = [process.env.REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const NO_REDIS = 'redis-server is not installed (apt-get install redis-server, or set REDIS_SERVER to its path): the cluster tests need a real Redis and were skipped';

/** How long the server may take to accept connections on a loaded machine, ms. */
const START_MS = 20_000;

export class RedisServer {
  private constructor(
    private child: ChildProcess | null,
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** Starts a server of its own on a free loopback port. */
  static async start(binary = redisServerPath()): Promise<RedisServer> {
    if (!binary) throw new Error(NO_REDIS);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-redis-'));
    const server = new RedisServer(null, binary, dir, await freePort());
    await server.run();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts it again on the same port (after kill()): everything it held is gone. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is still running');
    await this.run();
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Stops it and removes its directory. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    try {
      await accepting(this.port, START_MS, 'redis-server', () => this.child === null);
    } catch (error) {
      await this.signal('SIGKILL');
      throw new Error(`${(error as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: error });
    }
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }
}
