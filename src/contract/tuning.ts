/**
 * /api/tuning: the threshold replay (how every reviewed event would be answered under a range of
 * minSimilarity values) and the minSimilarity in force, which an admin may change.
 */
import { z } from 'zod';

const SIMILARITY_HINT = 'minSimilarity must be a cosine similarity from -1 to 1 (GET /api/tuning shows what each value would keep and refuse)';

export const tuningPointSchema = z.object({
  minSimilarity: z.number(),
  confirmedKept: z.number().int().describe('Faces reviewed as someone (confirmed, relabelled) that would be named that person'),
  rejectedRefused: z.number().int().describe('Faces reviewed as not the person they were named (rejected, relabelled) that would not be named so again'),
});
export type TuningPoint = z.infer<typeof tuningPointSchema>;

export const tuningReportSchema = z
  .object({
    current: z.number().describe('The minSimilarity the live matcher uses now'),
    source: z
      .enum(['tuned', 'config', 'calibrated'])
      .describe("Where it comes from: applied with PUT /api/tuning (kept across restarts), the config file, or the model's calibration"),
    matcher: z.enum(['cosine', 'svm']).describe('The matcher serving now (svm once trained on the current gallery, when configured)'),
    confirmed: z.number().int().describe('Reviewed faces with a person: the most confirmedKept can be'),
    rejected: z.number().int().describe('Reviewed faces wrongly named: the most rejectedRefused can be'),
    points: z.array(tuningPointSchema).describe('The replay, by increasing minSimilarity (with the current value among them)'),
  })
  .describe('The threshold replay of every reviewed event, with the gallery of today and the cosine rules');
export type TuningReport = z.infer<typeof tuningReportSchema>;

export const tuningBodySchema = z.strictObject(
  {
    minSimilarity: z
      .number({ error: SIMILARITY_HINT })
      .min(-1, { error: SIMILARITY_HINT })
      .max(1, { error: SIMILARITY_HINT })
      .describe('The new minSimilarity: applied to the live matcher at once, and kept'),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}: the body is { "minSimilarity": <number> }` : undefined) },
);
export type TuningChange = z.infer<typeof tuningBodySchema>;
