/**
 * A webhook receiver for tests: a real node:http server on 127.0.0.1 that answers each request
 * as the test scripts it (a status, or no answer at all) and records what it got; and the
 * signature check a receiver makes, as the README shows it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookBody } from '../../src/integrations/webhooks.js';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** What the receiver does with a request: answer with a status, or never answer. */
export type Answer = number | 'hang';

/** A webhook receiver on 127.0.0.1: answers each request with the next scripted answer (then 200), and records it. */
export class Receiver extends EventEmitter<{ request: [Received] }> {
  readonly requests: Received[] = [];
  private readonly server: Server;

  constructor(private readonly answers: Answer[] = []) {
    super();
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const answer = this.answers.shift() ?? 200;
        const received = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          status: answer === 'hang' ? 0 : answer,
        };
        this.requests.push(received);
        this.emit('request', received);
        if (answer !== 'hang') res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'thanks' : 'not now');
      });
    });
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The bodies received, parsed. */
  bodies(): WebhookBody[] {
    return this.requests.map((r) => JSON.parse(r.body) as WebhookBody);
  }
}

/** The check a receiver makes (the README's): HMAC-SHA256 of the raw body with the secret, compared in constant time. */
export function signatureValid(body: string, header: string | string[] | undefined, secret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(typeof header === 'string' ? header : '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
