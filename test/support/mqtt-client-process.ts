/**
 * facestream's MQTT client in a process of its own, for the test that kills it with SIGKILL
 * (test/integration/mqtt.test.ts): `node mqtt-client-process.js <broker url> <topic prefix>`
 * connects with the integration's own code and options (its last will included) and runs
 * until it is killed.
 */
import os from 'node:os';
import { silentLogger } from '../../src/common/logger.js';
import { configSchema } from '../../src/config/schema.js';
import { SnapshotStore } from '../../src/events/snapshots.js';
import { MqttIntegration } from '../../src/integrations/mqtt.js';

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) throw new Error('usage: mqtt-client-process.js <broker url> <topic prefix>');
const config = configSchema.parse({ mqtt: { url, clientId: `facestream-${prefix}`, topicPrefix: prefix } }).mqtt;
new MqttIntegration({ config: { ...config, url }, people: () => [], cameras: () => [], snapshots: new SnapshotStore(os.tmpdir()), logger: silentLogger() }).start();
