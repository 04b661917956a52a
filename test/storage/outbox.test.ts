/**
 * The webhook outbox on both dialects: each URL's oldest delivery is its head, in the order of
 * queueing; a failure is counted with its error and next time; a removal makes the next one the
 * head; a rule's pending count and last error. Two outboxes on one database (two nodes) send
 * each delivery once.
 */
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/common/logger.js';
import { Outbox } from '../../src/integrations/outbox.js';
import { OutboxRepository, type NewDelivery } from '../../src/storage/outbox.repository.js';
import { forEachDatabase } from '../support/databases.js';
import { pollUntil } from '../support/wait.js';
import { Receiver } from '../support/webhook-receiver.js';

const delivery = (id: string, url: string, ruleName = 'front door', createdAt = 1000): NewDelivery => ({
  id,
  ruleName,
  url,
  method: 'POST',
  body: JSON.stringify({ id }),
  headers: { 'content-type': 'application/json', 'x-facestream-delivery': id },
  createdAt,
});

forEachDatabase('heads are each URL’s oldest delivery, in queueing order; failures and removals move them on', async (_t, { store }) => {
  const outbox = new OutboxRepository(store.db);
  const A = 'http://a.example/hook';
  const B = 'http://b.example/hook';
  // ids that sort against the queueing order: the order is the queue's, not the ids'
  for (const [id, url] of [
    ['z3', B],
    ['y2', A],
    ['x1', B],
    ['w0', A],
  ] as const)
    await outbox.add(delivery(id, url, url === A ? 'front door' : 'garden'));
  assert.equal(await outbox.count(), 4);
  const heads = await outbox.heads();
  assert.deepEqual(
    heads.map((h) => [h.id, h.url]),
    [
      ['z3', B],
      ['y2', A],
    ],
  );
  assert.deepEqual(heads[0], {
    ...delivery('z3', B, 'garden'),
    attempts: 0,
    nextAttemptAt: 1000,
    lastError: null,
  });

  await outbox.failed('y2', 'HTTP 503 Service Unavailable', 5000);
  await outbox.failed('y2', 'connection refused', 9000);
  const failed = (await outbox.heads()).find((h) => h.id === 'y2');
  assert.deepEqual([failed?.attempts, failed?.lastError, failed?.nextAttemptAt], [2, 'connection refused', 9000]);
  assert.deepEqual(await outbox.pendingOf('front door'), { pending: 2, lastError: 'connection refused' });
  assert.deepEqual(await outbox.pendingOf('garden'), { pending: 2, lastError: null });
  assert.deepEqual(await outbox.pendingOf('nobody'), { pending: 0, lastError: null });

  assert.equal(await outbox.remove('z3'), true);
  assert.equal(await outbox.remove('z3'), false, 'a second removal finds nothing');
  assert.deepEqual(
    (await outbox.heads()).map((h) => h.id),
    ['y2', 'x1'],
    'B’s next delivery is its head; the order stays the queue’s',
  );
  await outbox.remove('y2');
  await outbox.remove('x1');
  assert.deepEqual(
    (await outbox.heads()).map((h) => h.id),
    ['w0'],
  );
});

forEachDatabase('headers edited by hand into something else are sent as none', async (_t, { store }) => {
  const outbox = new OutboxRepository(store.db);
  await outbox.add(delivery('d1', 'http://a.example/'));
  await outbox.add(delivery('d2', 'http://b.example/'));
  await store.db.updateTable('outbox').set({ headers: '{not json' }).where('id', '=', 'd1').execute();
  await store.db.updateTable('outbox').set({ headers: '{"a":"1","b":2}' }).where('id', '=', 'd2').execute();
  assert.deepEqual(
    (await outbox.heads()).map((h) => h.headers),
    [{}, { a: '1' }],
  );
});

forEachDatabase('two nodes on one database send each delivery once: a delivery is claimed before its request', async (_t, { store, another }) => {
  const receiver = new Receiver();
  const url = await receiver.listen();
  const log = silentLogger();
  const nodes = [new Outbox(new OutboxRepository(store.db), log, { firstRetryMs: 50 }), new Outbox(new OutboxRepository((await another()).db), log, { firstRetryMs: 50 })];
  try {
    // queued through either node, as their recorders would
    for (let i = 0; i < 12; i++) await nodes[i % 2].enqueue(delivery(`d${String(i).padStart(2, '0')}`, url, 'front door', Date.now()));
    for (const node of nodes) node.start();
    await pollUntil(async () => (await new OutboxRepository(store.db).count()) === 0, 'the outbox emptied', 30_000, 50);
    const ids = receiver.requests.map((r) => String(r.headers['x-facestream-delivery']));
    assert.equal(ids.length, 12, `each sent once: ${ids.join(' ')}`);
    assert.deepEqual(ids, [...ids].sort(), 'in queueing order, one at a time for the URL');
  } finally {
    for (const node of nodes) await node.stop();
    await receiver.close();
  }
});

forEachDatabase('a claimed delivery is not due until the claim runs out, and an unclaim gives it back as it was', async (_t, { store }) => {
  const outbox = new OutboxRepository(store.db);
  await outbox.add(delivery('c1', 'http://a.example/hook'));
  assert.equal(await outbox.claim('c1', 1000, 60_000), true);
  assert.equal(await outbox.claim('c1', 1000, 60_000), false, 'a second node finds it taken');
  assert.equal((await outbox.heads())[0]?.nextAttemptAt, 60_000);
  await outbox.unclaim('c1', 60_000, 1000);
  assert.equal((await outbox.heads())[0]?.nextAttemptAt, 1000);
  assert.equal(await outbox.claim('c1', 1000, 70_000), true, 'due again: claimed anew');
});
