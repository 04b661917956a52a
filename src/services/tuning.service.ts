/**
 * Threshold tuning: replays every reviewed event under a range of minSimilarity values (see
 * recognition/threshold-replay.ts) and applies a chosen value to the live matcher (kept in the
 * settings, over the config file's, across restarts).
 */
import type { TuningReport } from '../contract/tuning.js';
import { replayReviews, replayThresholds } from '../recognition/threshold-replay.js';
import type { CorrectionsRepository } from '../storage/corrections.repository.js';
import type { GalleryService } from './gallery.service.js';

export interface TuningDeps {
  gallery: GalleryService;
  corrections: CorrectionsRepository;
}

export class TuningService {
  constructor(private readonly deps: TuningDeps) {}

  async report(): Promise<TuningReport> {
    const { gallery, corrections } = this.deps;
    const options = gallery.cosineOptions;
    const current = options.minSimilarity;
    const live = gallery.currentGallery;
    const replay = replayReviews(live, await corrections.reviewedFaces(live.model), replayThresholds(current), options);
    return { current, source: gallery.minSimilaritySource, matcher: gallery.matcher.kind, ...replay };
  }

  /** Applies `minSimilarity` live and keeps it; the replay as it stands then. */
  async apply(minSimilarity: number): Promise<TuningReport> {
    await this.deps.gallery.applyMinSimilarity(minSimilarity);
    return this.report();
  }
}
