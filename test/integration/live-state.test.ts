/**
 * The live state and `explain` through the whole server (startServer: real workers, MTCNN and
 * the embedder, the pipeline, the LiveHub on real Socket.IO), a camera double replaying
 * face-api's sample2.jpg (one face) and ann enrolled from that photo: the face's box reads
 * identifying before its vote decides, then known as ann; clicking it (the `explain` request)
 * answers with ann as the best candidate and nothing to say against her.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { io as connect } from 'socket.io-client';
import { startServer, type RunningServer } from '../../src/app/compose.js';
import type { ExplainReply, ExplainRequest, FrameMessage } from '../../src/common/live-events.js';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { samplePhoto, socketConnected, StillCamera, Teardown, tempDir } from '../helpers.js';
import { messages, waitFor, type LiveClient } from '../support/wait.js';

const PHOTO = samplePhoto(2);
/** The first decided box needs the workers warm and two samples: generous on a loaded machine. */
const DECIDED_WAIT_MS = 60_000;

describe('live state and explain through the real server', { skip: existsSync(PHOTO) ? false : `face-api sample photo missing at ${PHOTO}: run npm run models` }, () => {
  let server: RunningServer;
  let socket: LiveClient;
  const teardown = new Teardown();
  const frames: FrameMessage[] = [];

  before(async () => {
    const work = tempDir('facestream-live-state-');
    teardown.add(work.remove);
    const { data, info } = await sharp(PHOTO).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const picture = { data: new Uint8Array(data), width: info.width, height: info.height };
    const config = configSchema.parse({ server: { host: '127.0.0.1', port: 0 }, dataDir: work.dir });
    server = await startServer(config, (camera) => new StillCamera(camera, picture), silentLogger());
    teardown.add(() => server.stop());
    const created = await fetch(`${server.url}/api/people`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann' }) });
    const { id } = (await created.json()) as { id: number };
    const form = new FormData();
    form.append('files', new Blob([readFileSync(PHOTO)], { type: 'image/jpeg' }), 'ann.jpg');
    assert.equal((await fetch(`${server.url}/api/people/${id}/faces`, { method: 'POST', body: form })).status, 201);

    socket = connect(`${server.url}/live`, { transports: ['websocket'], reconnection: false });
    teardown.add(() => socket.close());
    socket.on('frame', (frame, drawn) => {
      frames.push(frame);
      drawn();
    });
    await socketConnected(socket);
    // added switched off and watched before it is switched on, so the viewer gets the first frames with the face
    const headers = { 'content-type': 'application/json' };
    const added = await fetch(`${server.url}/api/cameras`, { method: 'POST', headers, body: JSON.stringify({ id: 'door', url: 'rtsp://127.0.0.1:1/door', enabled: false }) });
    assert.equal(added.status, 201, await added.text());
    socket.emit('watch', { cameraId: 'door' });
    // a connection's requests are handled in order: the refusal of the next watch means the first is in place
    const refused = waitFor(messages(socket, 'error'), 'the refusal of a watch for a camera that does not exist');
    socket.emit('watch', { cameraId: 'missing' });
    await refused;
    assert.equal((await fetch(`${server.url}/api/cameras/door`, { method: 'PATCH', headers, body: JSON.stringify({ enabled: true }) })).status, 200);
  });

  after(() => teardown.run());

  /** socket.io types a timed acknowledgement as any: the contract's reply type, declared here once. */
  const explain = (request: ExplainRequest): Promise<ExplainReply> => socket.timeout(10_000).emitWithAck('explain', request);

  it('shows the box identifying until the vote decides, then known', async () => {
    await waitFor(messages(socket, 'frame'), 'a frame with a known face', (frame) => frame.faces.some((f) => f.state === 'known'), DECIDED_WAIT_MS);
    const states = frames.flatMap((frame) => frame.faces.map((f) => f.state));
    const firstKnown = states.indexOf('known');
    assert.ok(firstKnown > 0, `a box was drawn before the vote decided (states: ${states.slice(0, 20).join(', ')})`);
    assert.ok(
      states.slice(0, firstKnown).every((s) => s === 'identifying'),
      `identifying until then, never "unknown": ${states.slice(0, firstKnown).join(', ')}`,
    );
    const known = frames.flatMap((frame) => frame.faces).find((f) => f.state === 'known');
    assert.equal(known?.label, 'ann');
    assert.equal(known.known, true);
  });

  it("explains ann's box: she is the best candidate, nothing stands against her", async () => {
    const face = frames
      .flatMap((frame) => frame.faces)
      .filter((f) => f.state === 'known')
      .at(-1);
    assert.ok(face, 'a known box');
    const reply = await explain({ cameraId: 'door', trackId: face.trackId });
    assert.ok(reply.ok, JSON.stringify(reply));
    const { explanation } = reply;
    assert.equal(explanation.state, 'known');
    assert.equal(explanation.label, 'ann');
    assert.equal(explanation.candidates[0]?.label, 'ann');
    assert.ok(explanation.candidates[0].score > 0.5, `score ${explanation.candidates[0].score}`);
    assert.equal(explanation.margin, null, 'one person enrolled: no second to compare');
    assert.equal(explanation.unknownReason, null);
    assert.ok(explanation.samples >= 2, `${explanation.samples} samples`);
    assert.ok(explanation.sampledAt !== null && explanation.sampledAt <= Date.now());
  });
});
