/** The saved notification rules on both dialects: none until saved, a save replaces them all, hand-edited text comes back as it is. */
import assert from 'node:assert/strict';
import { NotificationRulesRepository } from '../../src/storage/notification-rules.repository.js';
import { forEachDatabase } from '../support/databases.js';

forEachDatabase('notification rules: none until saved, then the last list saved', async (_t, { store }) => {
  const rules = new NotificationRulesRepository(store.db);
  assert.equal(await rules.load(), null);
  await rules.save([{ name: 'a' }, { name: 'b' }]);
  await rules.save([{ name: 'c' }]);
  assert.deepEqual(await rules.load(), [{ name: 'c' }]);
  await store.db.updateTable('notification_rules').set({ rules: 'not json' }).execute();
  assert.equal(await rules.load(), 'not json', 'text that is not JSON is given back for the schema to refuse by name');
});
