/** The cameras repository on both dialects: order of adding kept across updates, JSON settings, removal. */
import assert from 'node:assert/strict';
import { CamerasRepository } from '../../src/storage/cameras.repository.js';
import { forEachDatabase } from '../support/databases.js';

forEachDatabase('cameras keep the order they were added in, through updates, and come back as saved', async (_t, { store }) => {
  const cameras = new CamerasRepository(store.db);
  assert.deepEqual(await cameras.list(), []);
  await cameras.save({ id: 'door', settings: { id: 'door', url: 'rtsp://cam/door', fps: 5 }, origin: 'file' });
  await cameras.save({ id: 'hall', settings: { id: 'hall', url: 'rtsp://cam/hall' }, origin: 'api' });
  // an update replaces the settings and origin, keeping the camera's place
  await cameras.save({ id: 'door', settings: { id: 'door', url: 'rtsp://cam/door2' }, origin: 'api' });
  assert.deepEqual(await cameras.list(), [
    { id: 'door', settings: { id: 'door', url: 'rtsp://cam/door2' }, origin: 'api' },
    { id: 'hall', settings: { id: 'hall', url: 'rtsp://cam/hall' }, origin: 'api' },
  ]);
  assert.equal(await cameras.remove('door'), true);
  assert.equal(await cameras.remove('door'), false, 'a second removal finds nothing');
  assert.deepEqual(
    (await cameras.list()).map((c) => c.id),
    ['hall'],
  );
});

forEachDatabase('settings edited by hand into something that is not JSON come back as null', async (_t, { store }) => {
  const cameras = new CamerasRepository(store.db);
  await cameras.save({ id: 'door', settings: { id: 'door' }, origin: 'api' });
  await store.db.updateTable('cameras').set({ settings: '{not json' }).where('id', '=', 'door').execute();
  assert.deepEqual(await cameras.list(), [{ id: 'door', settings: null, origin: 'api' }]);
});
