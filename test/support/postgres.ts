/**
 * PostgreSQL in tests, real: a server from Debian's postgresql package (initdb and postgres from
 * /usr/lib/postgresql/<version>/bin, or POSTGRES_BIN) in a temporary directory on a free loopback
 * port, with a database made for each test that asks. As root the server runs as the postgres
 * user (it refuses to run as root), through runuser, in a directory that user owns.
 *
 * Durability is switched off (fsync, synchronous_commit): the tests need a real server's SQL and
 * locking, not its crash safety, and a loaded 2-core machine should not wait on the disk.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/** The bin folder of the newest PostgreSQL installed (POSTGRES_BIN names another), or null. */
export function postgresBinDir(): string | null {
  const candidates = process.env.POSTGRES_BIN ? [process.env.POSTGRES_BIN] : installedVersions().map((v) => path.join('/usr/lib/postgresql', v, 'bin'));
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres'))) ?? null;
}

function installedVersions(): string[] {
  if (!existsSync('/usr/lib/postgresql')) return [];
  return readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
}

export const NO_POSTGRES =
  'PostgreSQL is not installed (apt-get install postgresql, or set POSTGRES_BIN to the folder of initdb and postgres): the PostgreSQL half of the storage tests was skipped';

/** How long initdb and the server's start and stop may take on a loaded machine, ms. */
const START_MS = 60_000;
const STOP_MS = 15_000;
/** How long a smart shutdown waits for the sessions closing as a test ends, ms (a session left open costs this, then a fast shutdown ends it). */
const SESSIONS_END_MS = 2_000;

/** The user that owns and runs the server: ourselves, or postgres when we are root. */
function serverUser(): { asRoot: boolean; uid: number; gid: number } {
  if (process.getuid?.() !== 0) return { asRoot: false, uid: -1, gid: -1 };
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { asRoot: true, uid: id('-u'), gid: id('-g') };
}

export class PostgresServer {
  private exited: Promise<void>;
  private databases = 0;

  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly output: () => string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** initdb in a new temporary directory, then the server on a free loopback port; resolves once it accepts connections. */
  static async start(bin: string): Promise<PostgresServer> {
    const user = serverUser();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-pg-'));
    if (user.asRoot) chownSync(dir, user.uid, user.gid);
    const run = (program: string, args: string[]) =>
      (user.asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args]) as [string, string[]];
    const data = path.join(dir, 'data');
    try {
      execFileSync(...run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync']), { stdio: 'pipe', timeout: START_MS });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb failed: ${(error as { stderr?: Buffer }).stderr?.toString() ?? String(error)}`, { cause: error });
    }
    const port = await freePort();
    const [program, args] = run('postgres', [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ]);
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    const server = new PostgresServer(dir, port, child, () => output);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`PostgreSQL did not start within ${START_MS / 1000} s:\n${output}`)), START_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => fail(new Error(`PostgreSQL exited with code ${String(code)} at its start:\n${output}`)));
    }).catch(async (error: unknown) => {
      await server.stop();
      throw error;
    });
    return server;
  }

  /** The URL of the server's `postgres` database, from which databases are made. */
  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Makes a new, empty database and returns its URL. */
  async createDatabase(prefix = 'facestream'): Promise<string> {
    const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++this.databases}`;
    const client = new pg.Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  /**
   * A smart shutdown first (SIGTERM: the postmaster waits for the sessions to end), briefly: a
   * pool's end() resolves before its sockets are closed, and a fast shutdown meanwhile would send
   * those sessions an error ("terminating connection due to administrator command") after their
   * test ended. Then a fast one (SIGINT: it ends every session), bounded; then the directory goes.
   */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // the postmaster's own pid: under runuser the child is runuser, which need not pass signals on
      const pidFile = path.join(this.dir, 'data', 'postmaster.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : (this.child.pid ?? 0);
      const exitedWithin = (ms: number) => Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
      signal(pid, 'SIGTERM');
      let stopped = await exitedWithin(SESSIONS_END_MS);
      if (!stopped) {
        signal(pid, 'SIGINT');
        stopped = await exitedWithin(STOP_MS);
      }
      if (!stopped) {
        signal(pid, 'SIGKILL');
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** What the server wrote to stderr (for a failing test's message). */
  get log(): string {
    return this.output();
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
