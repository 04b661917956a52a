/**
 * Cluster mode's pure parts: which node takes an unowned camera (the least loaded: cameras, then
 * processed fps where they differ clearly, then id, so every node decides the same), the fair share and the surplus a node
 * hands over (only when that makes the spread strictly better, so cameras do not flap), and the
 * cluster.* configuration (FACESTREAM_REDIS_URL, FACESTREAM_NODE_ID; refused without PostgreSQL,
 * naming both settings).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignUnowned, compareLoad, fairShare, surplus, type NodeLoad } from '../../src/cluster/placement.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const node = (id: string, cameras: number, processedFps = 0): NodeLoad => ({ id, cameras, processedFps });

describe('camera placement', () => {
  it('orders nodes by cameras, then processed fps where they differ clearly, then id', () => {
    const sorted = [node('c', 1, 25), node('a', 2, 0), node('b', 1, 25), node('d', 1, 12)].sort(compareLoad).map((n) => n.id);
    assert.deepEqual(sorted, ['d', 'b', 'c', 'a']);
  });

  it('does not tell two nodes apart by rates that differ a little (read a heartbeat apart, they would each find the other lighter)', () => {
    const [a, b] = [node('a', 1, 25), node('b', 1, 24)];
    assert.ok(compareLoad(a, b) < 0 && compareLoad(b, a) > 0, 'the id decides');
    assert.deepEqual([...assignUnowned(['cam1'], [node('a', 1, 24), node('b', 1, 25)])], [['cam1', 'a']]);
    assert.deepEqual([...assignUnowned(['cam1'], [node('b', 1, 24), node('a', 1, 25)])], [['cam1', 'a']], 'the same, listed in another order');
  });

  it('gives unowned cameras one by one to the least loaded node, whatever order they are listed in', () => {
    const nodes = [node('a', 1), node('b', 0), node('c', 0)];
    const assigned = assignUnowned(['cam3', 'cam1', 'cam2', 'cam4'], nodes);
    assert.deepEqual([...assigned].sort(), [
      ['cam1', 'b'],
      ['cam2', 'c'],
      ['cam3', 'a'],
      ['cam4', 'b'],
    ]);
    assert.deepEqual(
      nodes.map((n) => n.cameras),
      [1, 0, 0],
      'the loads given are not changed',
    );
    assert.equal(assignUnowned(['cam1'], []).size, 0, 'no live node: nobody takes it');
  });

  it('hands over from the most loaded node only, what is beyond the fair share (at least one), while another runs at least two fewer', () => {
    assert.equal(fairShare(7, 3), 3);
    assert.equal(fairShare(3, 0), 3);
    // two nodes join a node that ran everything: it hands over all but its share at once
    assert.equal(surplus('a', [node('a', 6), node('b', 0), node('c', 0)], 6), 4);
    // 6 cameras on two nodes, a third joins: one of the two (the last by id among equals) gives first
    const joined = [node('a', 3), node('b', 3), node('c', 0)];
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => surplus(id, joined, 6)),
      [0, 1, 0],
    );
    // 4 cameras on 3 nodes: 2/2/0 is at the fair share, but the newcomer gets one all the same
    assert.equal(surplus('b', [node('a', 2), node('b', 2), node('c', 0)], 4), 1);
    // 2/1/1 is as even as it gets (moving one would give 1/2/1)
    assert.equal(surplus('a', [node('a', 2), node('b', 1), node('c', 1)], 4), 0);
    // nobody two below: kept (no back and forth)
    assert.equal(surplus('a', [node('a', 3), node('b', 2), node('c', 2)], 7), 0);
    assert.equal(surplus('x', [node('a', 3)], 3), 0, 'a node not among the live ones hands nothing over');
  });
});

describe('cluster configuration', () => {
  it('is off by default, and takes FACESTREAM_REDIS_URL and FACESTREAM_NODE_ID with PostgreSQL', () => {
    assert.deepEqual(loadConfig({ env: {} }).cluster, { redisUrl: null, nodeId: null, heartbeatS: 2, leaseS: 10 });
    const config = loadConfig({
      env: { FACESTREAM_REDIS_URL: 'redis://127.0.0.1:6379', FACESTREAM_NODE_ID: 'cams-1', FACESTREAM_DATABASE_URL: 'postgres://fs:secret@127.0.0.1:5432/fs' },
    });
    assert.deepEqual(config.cluster, { redisUrl: 'redis://127.0.0.1:6379', nodeId: 'cams-1', heartbeatS: 2, leaseS: 10 });
  });

  it('refuses a Redis URL with SQLite, naming both settings', () => {
    assert.throws(
      () => loadConfig({ env: { FACESTREAM_REDIS_URL: 'redis://127.0.0.1:6379' } }),
      (error: Error) => error instanceof ConfigError && error.message.includes('cluster.redisUrl') && error.message.includes('database.url (FACESTREAM_DATABASE_URL)'),
    );
  });

  it('refuses a URL that is not Redis, a bad node id, and a lease shorter than four heartbeats', () => {
    const postgres = { FACESTREAM_DATABASE_URL: 'postgres://127.0.0.1/fs' };
    assert.throws(() => loadConfig({ env: { ...postgres, FACESTREAM_REDIS_URL: 'http://127.0.0.1:6379' } }), /cluster\.redisUrl must be a redis:\/\//);
    assert.throws(() => loadConfig({ env: { ...postgres, FACESTREAM_NODE_ID: 'a b' } }), /cluster\.nodeId.*a node id is/);
    assert.throws(() => loadConfig({ env: postgres, overrides: { cluster: { heartbeatS: 5, leaseS: 10 } } }), /cluster\.leaseS.*at least 4 heartbeats/);
  });
});
