/**
 * Identity belongs to a track, not a frame: each embedded sample of a track casts a vote
 * weighted by its match score and face quality; a name is decided once enough samples agree,
 * ties are rejected, and after `maxFaceAttempts` undecided samples the track is "unknown".
 * A decided identity is kept for the track's life, so a name does not flicker.
 */
import { UNKNOWN, type Identity } from '../common/match.js';

export interface VoteOptions {
  /** Samples needed before any decision. */
  minSamples: number;
  /** Share of the total vote weight the leading label needs (0.5..1). */
  minShare: number;
  /** Samples after which an undecided track is called "unknown". */
  maxFaceAttempts: number;
  /**
   * Once decided, re-embed a face every this many detection rounds (about a second of a 25 fps
   * camera) to keep the score fresh and notice a changed face. Every 10 rounds cost 15–20% of
   * the CPU with four cameras (measured), for rechecks 2.5 times as often.
   */
  recheckEvery: number;
  /**
   * Consecutive rechecks that disagree with the decided identity before the track is taken to
   * have changed faces (a swap, or a cut the scene detector missed): it is then ended, and the
   * face that is there now starts a track of its own.
   */
  maxDisagreements: number;
}

export const DEFAULT_VOTE_OPTIONS: VoteOptions = {
  minSamples: 2,
  minShare: 0.6,
  maxFaceAttempts: 8,
  recheckEvery: 25,
  maxDisagreements: 2,
};

export interface VoteSample {
  /** Person name, or UNKNOWN. */
  label: string;
  score: number;
  /** Face size in pixels: bigger faces are more reliable samples. */
  faceSize: number;
}

export class IdentityVote {
  private samples: VoteSample[] = [];
  private decision: Identity | null = null;
  private roundsSinceSample = 0;
  private disagreements = 0;

  constructor(private readonly options: VoteOptions = DEFAULT_VOTE_OPTIONS) {}

  /** The decided identity has been contradicted by `maxDisagreements` samples in a row. */
  get contradicted(): boolean {
    return this.disagreements >= this.options.maxDisagreements;
  }

  /** Counts a detection round in which the track could be embedded; wantsSample() then says whether it should be. */
  countRound(): void {
    this.roundsSinceSample++;
  }

  /** Whether the track should be embedded in the round just counted (a query: it changes nothing). */
  wantsSample(): boolean {
    // undecided, or a recheck just disagreed: look again at once
    if (!this.decision || this.disagreements > 0) return true;
    return this.roundsSinceSample >= this.options.recheckEvery;
  }

  add(sample: VoteSample): Identity {
    this.roundsSinceSample = 0;
    this.samples.push(sample);
    if (this.decision) {
      // keep the decided label; refresh its best score when the same person is seen again
      if (sample.label === this.decision.label) {
        this.decision.score = Math.max(this.decision.score, sample.score);
        this.disagreements = 0;
      } else {
        this.disagreements++;
      }
      return this.current();
    }
    this.decision = decide(this.samples, this.options);
    return this.current();
  }

  /**
   * Votes again from `sample` alone: the gallery changed and the track's last face, scored by the
   * new matcher, no longer agrees with this vote (an unknown face was just enrolled, the person it
   * was named after was removed or changed). The old samples were scored against a gallery that is
   * gone, so they are forgotten; the track is sampled at once until the new vote decides.
   */
  restart(sample: VoteSample): Identity {
    this.samples = [sample];
    this.decision = decide(this.samples, this.options);
    this.roundsSinceSample = 0;
    this.disagreements = 0;
    return this.current();
  }

  current(): Identity {
    if (this.decision) return { ...this.decision };
    const lead = leader(this.samples);
    return { label: UNKNOWN, score: lead?.score ?? 0, known: false, decided: false };
  }
}

/** Sample weight: the match score times a face-size factor that saturates at 112 px. */
export function sampleWeight(sample: VoteSample): number {
  return Math.max(0.01, sample.score) * Math.min(1, Math.max(0.25, sample.faceSize / 112));
}

function leader(samples: VoteSample[]): { label: string; weight: number; share: number; score: number; tied: boolean } | null {
  if (samples.length === 0) return null;
  /** Per label: the summed weight of its samples and its best score. */
  const tally = new Map<string, { weight: number; score: number }>();
  let total = 0;
  for (const s of samples) {
    const w = sampleWeight(s);
    const counted = tally.get(s.label);
    if (counted) {
      counted.weight += w;
      counted.score = Math.max(counted.score, s.score);
    } else tally.set(s.label, { weight: w, score: s.score });
    total += w;
  }
  const ranked = [...tally.entries()].sort((a, b) => b[1].weight - a[1].weight);
  const [label, { weight, score }] = ranked[0];
  const tied = ranked.length > 1 && Math.abs(ranked[1][1].weight - weight) < 1e-9;
  return { label, weight, share: weight / total, score, tied };
}

/** The decision rule: a clear weighted majority after enough samples, else unknown after too many. */
export function decide(samples: VoteSample[], options: VoteOptions): Identity | null {
  const lead = leader(samples);
  if (!lead) return null;
  if (samples.length >= options.minSamples && !lead.tied && lead.share >= options.minShare) {
    return { label: lead.label, score: lead.score, known: lead.label !== UNKNOWN, decided: true };
  }
  if (samples.length >= options.maxFaceAttempts) return { label: UNKNOWN, score: lead.score, known: false, decided: true };
  return null;
}
