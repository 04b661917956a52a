/** The routes about the server itself: liveness for monitors. */
import { z } from 'zod';

export const healthSchema = z.object({
  status: z.literal('ok'),
  backend: z.string().describe('The TensorFlow.js backend the models run on (wasm, tensorflow, cpu)'),
  cameras: z.number().int().describe('Cameras configured'),
  uptime: z.number().describe('Seconds since the process started'),
  auth: z.boolean().describe('Whether this server asks for a login'),
});
export type Health = z.infer<typeof healthSchema>;
