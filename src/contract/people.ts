/**
 * The gallery over REST: people with their faces, photo uploads, and "who is in this photo?".
 * The name rules (length, characters, "unknown", "forgotten") are the gallery's own and are applied by the
 * server after these shapes.
 */
import { z } from 'zod';
import type { FaceQuality } from '../common/types.js';
import { positiveIdParam, sameType } from './http.js';

export const personSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    createdAt: z.string(),
    samples: z.number().int().describe('Face samples of every model'),
    samplesByModel: z.record(z.string(), z.number().int()).describe('Face samples per embedding model id'),
    faceUrl: z.string().nullable().describe('One face crop (JPEG); null when none was kept'),
  })
  .describe('A person of the gallery');
export type Person = z.infer<typeof personSchema>;

export const faceQualitySchema = z.object({
  size: z.number().describe('The shorter side of the face box, in source pixels'),
  sharpness: z.number().describe('Variance of the Laplacian of the aligned grey crop: low means blurred'),
  roll: z.number().describe('Head roll from the eye line, degrees'),
  yaw: z.number().describe('Yaw estimate, degrees (0 = frontal)'),
});
sameType<z.infer<typeof faceQualitySchema>, FaceQuality>();

export const personFaceSchema = z.object({
  id: z.number().int(),
  model: z.string().describe('The embedding model of this sample'),
  quality: faceQualitySchema,
  source: z.enum(['file', 'video', 'event']).describe('A photo, a frame of a video, or a camera event'),
  createdAt: z.string(),
  imageUrl: z.string().nullable().describe('The aligned crop (JPEG); null when none was kept'),
});
export type PersonFace = z.infer<typeof personFaceSchema>;

export const personDetailSchema = personSchema.extend({ faces: z.array(personFaceSchema) }).describe('A person with their faces');
export type PersonDetail = z.infer<typeof personDetailSchema>;

export const personListSchema = z.array(personSchema);

export const personParamsSchema = z.object({ id: positiveIdParam('person') });
export const faceParamsSchema = z.object({ id: positiveIdParam('person'), faceId: positiveIdParam('face') });

/** POST /api/people and PATCH /api/people/:id. */
export const personNameBodySchema = z.object({
  name: z.string({ error: "name must be a string: the person's name" }).describe('1-64 characters; not "unknown" or "forgotten", no "/" or "\\\\", no control characters'),
});

export const uploadFileResultSchema = z.object({
  file: z.string().describe('The file name as uploaded'),
  accepted: z.boolean(),
  faceId: z.number().int().optional().describe('The sample enrolled from it'),
  reason: z.string().optional().describe('Why it was refused, and what to do'),
});
export type UploadFileResult = z.infer<typeof uploadFileResultSchema>;

export const faceUploadReportSchema = z.object({
  person: personSchema,
  results: z.array(uploadFileResultSchema).describe('One per file'),
  warnings: z.array(z.string()).describe('Look-alikes: a face close to another person of the gallery'),
});
export type FaceUploadReport = z.infer<typeof faceUploadReportSchema>;

/** The multipart fields of POST /api/people/:id/faces. */
export const faceUploadFormSchema = z.object({ files: z.array(z.string().meta({ format: 'binary' })).describe('At most 20 photos') });

export const recognizedFaceSchema = z.object({
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('[x, y, width, height] in pixels'),
  confidence: z.number().describe("The detector's"),
  label: z.string().describe('The person, or "unknown"'),
  score: z.number(),
  known: z.boolean(),
  unknownReason: z
    .enum(['below-min-similarity', 'ambiguous', 'empty-gallery', 'below-min-probability', 'rejected-look-alike'])
    .optional()
    .describe('Why the answer is unknown; rejected-look-alike: closer to a face reviewed as "not this person" than to their own samples'),
  matcher: z.enum(['cosine', 'svm']).optional().describe('Which matcher answered: svm (score: a probability) once trained on the current gallery, else cosine'),
  candidates: z.array(z.object({ label: z.string(), score: z.number() })).describe('The three closest people'),
});
export type RecognizedFace = z.infer<typeof recognizedFaceSchema>;

export const recognizeReportSchema = z.object({
  file: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  faces: z.array(recognizedFaceSchema),
});
export type RecognizeReport = z.infer<typeof recognizeReportSchema>;

/** The multipart field of POST /api/recognize. */
export const recognizeFormSchema = z.object({ file: z.string().meta({ format: 'binary' }).describe('One photo') });

export const forgetResultSchema = z
  .object({
    forgotten: z.string().describe('The name of the person forgotten'),
    samplesDeleted: z.number().int().describe('Face samples deleted (with their embeddings)'),
    eventsForgotten: z.number().int().describe('Events that named them: kept as "forgotten", without snapshots'),
    filesDeleted: z.number().int().describe('Face crops and event snapshots deleted from the data directory'),
  })
  .describe('What forgetting a person deleted');
export type ForgetResult = z.infer<typeof forgetResultSchema>;
