/** /api/cluster: the nodes and the cameras each runs (read only, so viewers may have it too). */
import { Router } from 'express';
import type { ClusterSnapshot } from '../contract/cluster.js';
import type { ClusterService } from '../services/cluster.service.js';

export function clusterRouter(cluster: ClusterService): Router {
  const router = Router();
  router.get('/cluster', (_req, res) => void res.json(cluster.snapshot() satisfies ClusterSnapshot));
  return router;
}
