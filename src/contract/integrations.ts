/** GET /api/integrations: how facestream's ways out to other systems are doing (the Settings page shows it). */
import { z } from 'zod';

export const mqttStateSchema = z
  .object({
    enabled: z.boolean().describe('Whether a broker is configured (mqtt.url or FACESTREAM_MQTT_URL)'),
    connected: z.boolean().describe('Whether facestream is connected to the broker now'),
    url: z.string().nullable().describe('The broker, its password shown as ***; null when MQTT is off'),
    lastError: z.string().nullable().describe('Why the last connection attempt failed or the connection was lost, in words; null once connected'),
    queued: z.number().int().describe('QoS 1 event messages not yet acknowledged by the broker (kept in memory, sent in order once it is back)'),
    dropped: z.number().int().describe('Event messages dropped since start because the queue was full (mqtt.maxQueued)'),
  })
  .describe('The MQTT integration');
export type MqttState = z.infer<typeof mqttStateSchema>;

export const integrationsSchema = z.object({ mqtt: mqttStateSchema }).describe("The integrations' state");
export type IntegrationsState = z.infer<typeof integrationsSchema>;
