/**
 * MQTT in tests, all real: a mosquitto broker started by the test on a free loopback port with
 * a temporary config (killed and started again on the same port when a test asks), a proxy
 * that a test can hold shut so it decides who reconnects first after a restart, and a
 * subscriber that records every message and lets a test wait for the ones it expects.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { accepting, freePort } from './ports.js';
import { waitFor, type Feed } from './wait.js';

/** Debian puts the broker in /usr/sbin (not on every PATH); MOSQUITTO names another. */
export function mosquittoPath(): string | null {
  const candidates = [process.env.MOSQUITTO, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p)) ?? null;
}

export const NO_MOSQUITTO = 'mosquitto is not installed (apt-get install mosquitto, or set MOSQUITTO to its path): the MQTT tests need a real broker';

export interface BrokerTls {
  certFile: string;
  keyFile: string;
}

/**
 * A certificate authority and a certificate for 127.0.0.1 that it signed (openssl, in `dir`),
 * or null without openssl. Files: ca.crt, server.crt, server.key.
 */
export function testCertificates(dir: string): { caFile: string; tls: BrokerTls } | null {
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  try {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=facestream test CA']);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext']);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return { caFile: file('ca.crt'), tls: { certFile: file('server.crt'), keyFile: file('server.key') } };
}

/** A mosquitto of the test's own: no persistence, so a killed broker forgets everything retained. */
export class Broker {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'facestream-mqtt-'));
  private readonly configFile = path.join(this.dir, 'mosquitto.conf');
  log = '';

  private constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly tls: BrokerTls | undefined,
  ) {
    const tlsLines = tls ? `certfile ${tls.certFile}\nkeyfile ${tls.keyFile}\n` : '';
    // started as root, mosquitto would become the user "mosquitto", who cannot read the test's temporary files
    writeFileSync(
      this.configFile,
      `user ${os.userInfo().username}\nlistener ${port} 127.0.0.1\n${tlsLines}allow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n`,
    );
  }

  /** `tls`: the listener speaks TLS (mqtts://) with this certificate. */
  static async start(binary: string, tls?: BrokerTls): Promise<Broker> {
    const broker = new Broker(binary, await freePort(), tls);
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  /** Starts it (again) on its port. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('the broker is running');
    const child = spawn(this.binary, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.child = child;
    const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`mosquitto exited (${code}) at start:\n${this.log}`))));
    await Promise.race([accepting(this.port, 15_000, 'mosquitto'), exited]);
    exited.catch(() => undefined);
  }

  /** Kills it (SIGKILL: no goodbye to anyone) and resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of the broker. While held, it closes its connections and refuses new
 * ones: what connects through it (facestream) cannot reconnect until the test releases it.
 */
export class GatedProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private held = false;

  private constructor(private readonly target: number) {
    this.server = net.createServer((client) => {
      if (this.held) return void client.destroy();
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }

  static async start(target: number): Promise<GatedProxy> {
    const proxy = new GatedProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  hold(): void {
    this.held = true;
    for (const socket of this.sockets) socket.destroy();
  }

  release(): void {
    this.held = false;
  }

  close(): Promise<void> {
    this.hold();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  text: string;
}

/** A test's MQTT client: subscribes to `topics`, keeps every message in `received` (in arrival order). */
export class Subscriber {
  readonly received: Received[] = [];
  private readonly arrivals = new EventEmitter<{ message: [Received] }>();

  private constructor(
    readonly client: MqttClient,
    private readonly topics: string[],
  ) {
    client.on('message', (topic, payload, packet) => {
      const message = { topic, payload, retain: packet.retain, text: payload.toString('utf8') };
      this.received.push(message);
      this.arrivals.emit('message', message);
    });
  }

  /** Connected and subscribed (QoS 1) to `topics`; reconnects by itself every 100 ms and subscribes again. */
  static async start(url: string, topics: string[], clientId = `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`): Promise<Subscriber> {
    const client = connect(url, { clientId, reconnectPeriod: 100, connectTimeout: 5000, protocolVersion: 4 });
    const subscriber = new Subscriber(client, topics);
    client.on('error', () => undefined); // refusals while its broker is down: it retries
    await client.subscribeAsync(topics, { qos: 1 });
    return subscriber;
  }

  /** Every message from now on. */
  get messages(): Feed<Received> {
    return (listener) => {
      this.arrivals.on('message', listener);
      return () => void this.arrivals.off('message', listener);
    };
  }

  /** The first message on `topic` that `accept` keeps: received already (from the `from`th message on), or from now on. */
  async next(topic: string, accept: (message: Received) => boolean = () => true, from = 0, timeoutMs = 20_000): Promise<Received> {
    const found = this.received.slice(from).find((m) => m.topic === topic && accept(m));
    if (found) return found;
    return waitFor(this.messages, `a message on ${topic}`, (m) => m.topic === topic && accept(m), timeoutMs);
  }

  /**
   * Resolves once connected to the broker again and subscribed there (a restarted broker forgot
   * every subscription; the broker has acknowledged this one before this resolves).
   */
  async resubscribed(timeoutMs = 20_000): Promise<void> {
    if (!this.client.connected) {
      await waitFor(
        (listener) => {
          this.client.on('connect', listener);
          return () => void this.client.off('connect', listener);
        },
        'the test subscriber to reconnect',
        () => true,
        timeoutMs,
      );
    }
    await this.client.subscribeAsync(this.topics, { qos: 1 });
  }

  /** Messages on `topic`, as text. */
  texts(topic: string): string[] {
    return this.received.filter((m) => m.topic === topic).map((m) => m.text);
  }

  stop(): Promise<void> {
    return this.client.endAsync(true);
  }
}
