/** The routes about the server itself: liveness for monitors, and the System page's snapshot. */
import { z } from 'zod';
import { cameraStatusSchema } from './cameras.js';

export const healthSchema = z.object({
  status: z.literal('ok'),
  backend: z.string().describe('What runs the models in the vision workers, e.g. "onnxruntime-node 1.30.0 (CPU)" or "TensorFlow.js 4.22.0 wasm (SIMD)"'),
  cameras: z.number().int().describe('Cameras configured'),
  uptime: z.number().describe('Seconds since the process started'),
  auth: z.boolean().describe('Whether this server asks for a login'),
});
export type Health = z.infer<typeof healthSchema>;

/** GET /api/system: what the System page shows, per camera and for the machine. */
export const workerLoadSchema = z.object({
  role: z.enum(['detector', 'embedder']),
  busyPercent: z.number().describe('Share of the last 5 s with a request in flight, 0-100'),
  jobsPerSecond: z.number().describe('Requests answered a second over the last 5 s'),
});
export type WorkerLoadView = z.infer<typeof workerLoadSchema>;

export const systemSchema = z
  .object({
    cameras: z.array(cameraStatusSchema),
    workers: z.array(workerLoadSchema).describe('The vision workers: the detector (detection, re-finding tracked faces) and the embedder'),
    process: z.object({
      cpuPercent: z.number().describe("The server process's CPU, all threads, in percent of one core (200 is two cores busy), since the previous reading (at least 1 s)"),
      rssBytes: z.number().int(),
      heapUsedBytes: z.number().int(),
      uptimeS: z.number(),
    }),
    system: z.object({
      cores: z.number().int(),
      loadAverage: z.tuple([z.number(), z.number(), z.number()]).describe('1, 5 and 15 minutes'),
      freeBytes: z.number().int(),
      totalBytes: z.number().int(),
    }),
  })
  .describe('Per-camera rates and overload, worker load, CPU and memory');
export type SystemSnapshot = z.infer<typeof systemSchema>;
