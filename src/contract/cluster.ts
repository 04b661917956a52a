/** GET /api/cluster: the nodes of the site and the cameras each runs (cluster mode, src/cluster/; one node without it). */
import { z } from 'zod';

export const clusterNodeSchema = z
  .object({
    id: z.string().describe('The node id (cluster.nodeId, FACESTREAM_NODE_ID; default <host name>:<port>)'),
    url: z.string().describe("Where the node's HTTP interface is reached"),
    cameras: z.array(z.string()).describe('The ids of the cameras it runs'),
    processedFps: z.number().describe('Frames a second its cameras have processed together'),
    lastHeartbeat: z.number().describe('When it last announced itself, ms since the epoch (its clock)'),
    alive: z.boolean().describe('False once its heartbeat is gone: it stopped, was killed or cannot reach Redis; its cameras move to the others'),
  })
  .describe('A facestream node');
export type ClusterNode = z.infer<typeof clusterNodeSchema>;

export const clusterSchema = z.object({ nodes: z.array(clusterNodeSchema) }).describe('The nodes of the site, this one included; a node that stopped is listed for an hour');
export type ClusterSnapshot = z.infer<typeof clusterSchema>;
