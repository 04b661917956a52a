/**
 * The `/live` namespace's `explain` request, with a real Socket.IO server on 127.0.0.1 and a
 * real socket.io-client: a box of a watched camera is explained by the pipeline's answer; a
 * camera the connection does not watch, a track that is gone and a malformed request each get
 * a refusal that says what to do, and the hub keeps serving.
 */
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server as SocketServer } from 'socket.io';
import { io as connect } from 'socket.io-client';
import type { CameraStatus, ExplainReply, ExplainRequest, FaceExplanation } from '../../src/common/live-events.js';
import { LiveHub } from '../../src/server/live.js';
import { socketConnected } from '../helpers.js';
import { messages, waitFor, type LiveClient } from '../support/wait.js';

const EXPLANATION: FaceExplanation = {
  cameraId: 'door',
  trackId: 7,
  state: 'unknown',
  label: 'unknown',
  candidates: [
    { label: 'ann', score: 0.52 },
    { label: 'bob', score: 0.5 },
  ],
  margin: 0.02,
  unknownReason: 'ambiguous',
  qualityProblem: null,
  samples: 4,
  sampledAt: 1_700_000_000_000,
};

/** A refusal's message (an answer that is not one fails the test). */
function refusal(reply: ExplainReply): string {
  assert.ok(!reply.ok, `refused, not answered: ${JSON.stringify(reply)}`);
  return reply.error;
}

describe('LiveHub explain (real Socket.IO on loopback)', () => {
  let http: HttpServer;
  let io: SocketServer;
  let hub: LiveHub;
  let socket: LiveClient;
  const asked: string[] = [];

  before(async () => {
    http = createServer();
    io = new SocketServer(http);
    hub = new LiveHub(io, { statuses: (): CameraStatus[] => [], has: (id) => id === 'door' || id === 'yard', latency: () => undefined, overloaded: () => false });
    hub.answerExplainsWith((cameraId, trackId) => {
      asked.push(`${cameraId}#${trackId}`);
      return cameraId === 'door' && trackId === 7 ? EXPLANATION : null;
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    socket = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}/live`, { transports: ['websocket'], reconnection: false });
    await socketConnected(socket);
    socket.emit('watch', { cameraId: 'door' });
    // requests are handled in order: the refusal of the next watch means the first is in place
    const refused = waitFor(messages(socket, 'error'), 'the refusal of a watch for a camera that does not exist');
    socket.emit('watch', { cameraId: 'missing' });
    await refused;
  });

  after(async () => {
    socket.close();
    hub.close();
    await new Promise<void>((resolve) => void io.close(() => resolve()));
  });

  // malformed requests too: the server reads whatever a client sends
  const explain = (request: unknown): Promise<ExplainReply> => socket.timeout(10_000).emitWithAck('explain', request as ExplainRequest);

  it("answers a watched camera's box with the pipeline's explanation", async () => {
    assert.deepEqual(await explain({ cameraId: 'door', trackId: 7 }), { ok: true, explanation: EXPLANATION });
  });

  it('refuses a camera this connection does not watch, without asking the pipeline', async () => {
    const before = asked.length;
    assert.match(refusal(await explain({ cameraId: 'yard', trackId: 7 })), /camera "yard" is not watched by this connection: watch it first/);
    assert.equal(asked.length, before);
  });

  it('says a track is gone, and what a request needs when it is malformed', async () => {
    assert.match(refusal(await explain({ cameraId: 'door', trackId: 8 })), /track 8 of camera "door" is no longer seen/);
    for (const bad of [null, 'door', { cameraId: 'door' }, { cameraId: 'door', trackId: 'x' }, { cameraId: 'door', trackId: 1.5 }, { cameraId: 'door', trackId: 0 }]) {
      assert.match(refusal(await explain(bad)), /explain needs \{ cameraId/, `refused: ${JSON.stringify(bad)}`);
    }
    // and it still answers
    assert.equal((await explain({ cameraId: 'door', trackId: 7 })).ok, true);
  });
});
