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

const boxSchema = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('[x, y, width, height] in pixels');

export const foundFaceSchema = z.object({ box: boxSchema, confidence: z.number().describe("The detector's") });
export type FoundFace = z.infer<typeof foundFaceSchema>;

export const uploadFileResultSchema = z.object({
  file: z.string().describe('The file name as uploaded'),
  accepted: z.boolean(),
  faceId: z.number().int().optional().describe('The sample enrolled from it'),
  reason: z.string().optional().describe('Why it was refused, and what to do'),
  faces: z
    .array(foundFaceSchema)
    .optional()
    .describe('A photo refused for showing several faces: the faces found, in the order `face` of the form field "faces" counts them; send the photo again with one picked'),
});
export type UploadFileResult = z.infer<typeof uploadFileResultSchema>;

export const lookAlikeSchema = z
  .object({
    person: z.string().describe('The person just enrolled'),
    lookAlike: z.string().describe('The other person of the gallery'),
    lookAlikeId: z.number().int().describe("The other person's id"),
    score: z.number().describe('Match score of their mean faces, 0..1'),
  })
  .describe("After this enrolment the person's faces are close to another person's: the cameras may mix the two up");
export type LookAlike = z.infer<typeof lookAlikeSchema>;

export const faceUploadReportSchema = z.object({
  person: personSchema,
  results: z.array(uploadFileResultSchema).describe('One per file'),
  warnings: z.array(z.string()).describe('Look-alikes: a face close to another person of the gallery'),
  lookAlikes: z.array(lookAlikeSchema).describe('The warnings, as data: who looks like whom'),
});
export type FaceUploadReport = z.infer<typeof faceUploadReportSchema>;

/** Which face to enrol from a photo with several: its index among the faces a refusal listed, or a box around it. */
export const facePickSchema = z.union(
  [
    z.strictObject({
      file: z.number().int().min(0).describe('The photo: its position among the uploaded files, from 0'),
      face: z.number().int().min(0).describe("The face: its position in the refusal's `faces`, from 0"),
    }),
    z.strictObject({
      file: z.number().int().min(0).describe('The photo: its position among the uploaded files, from 0'),
      box: boxSchema.describe("[x, y, width, height] in the photo's pixels: the face found that overlaps it most (at least a third) is enrolled"),
    }),
  ],
  { error: 'each pick is {"file": n, "face": n} or {"file": n, "box": [x, y, width, height]}, with whole numbers from 0' },
);
export type FacePick = z.infer<typeof facePickSchema>;

export const facePicksSchema = z.array(facePickSchema).max(20);

/** The multipart fields of POST /api/people/:id/faces. */
export const faceUploadFormSchema = z.object({
  files: z.array(z.string().meta({ format: 'binary' })).describe('At most 20 photos'),
  faces: z
    .string()
    .optional()
    .describe('JSON: which face to enrol from photos with several, e.g. [{"file":0,"face":2}] or [{"file":0,"box":[120,40,80,96]}]; photos not named keep their one face'),
});

export const recognizedFaceSchema = z.object({
  box: boxSchema,
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

// ---- enrolment from a video: upload, a job that scans it, the faces it chose, confirmation

export const videoJobParamsSchema = z.object({
  id: positiveIdParam('person'),
  jobId: z
    .string()
    .regex(/^[0-9a-f]{16}$/, { error: 'video job id must be the 16 hex digits the upload answered' })
    .describe('Video job id'),
});
export const videoFaceParamsSchema = videoJobParamsSchema.extend({
  index: z
    .string()
    .regex(/^\d{1,3}$/, { error: 'face index must be a whole number from 0' })
    .transform(Number),
});

export const videoFaceSchema = z.object({
  index: z.number().int().describe('Its number in this job, for the confirmation'),
  time: z.number().describe('Seconds into the video'),
  quality: faceQualitySchema,
  imageUrl: z.string().describe('The aligned crop (JPEG)'),
});
export type VideoFace = z.infer<typeof videoFaceSchema>;

export const videoJobSchema = z
  .object({
    id: z.string(),
    personId: z.number().int(),
    file: z.string().describe('The video as uploaded'),
    state: z.enum(['scanning', 'ready', 'failed']).describe('scanning: frames are being read; ready: the faces are chosen, waiting for confirmation; failed: see error'),
    progress: z.number().describe('0..1 of the frames to sample'),
    framesDone: z.number().int(),
    framesTotal: z.number().int().describe('About how many frames are sampled'),
    duration: z.number().describe('Seconds'),
    candidates: z.number().int().describe('Frames with exactly one face that passes the quality gates'),
    skipped: z.record(z.string(), z.number().int()).describe('Frames passed over, by reason'),
    faces: z.array(videoFaceSchema).describe('The diverse faces chosen (when ready)'),
    error: z.string().optional(),
  })
  .describe('A video being scanned for faces to enrol');
export type VideoJob = z.infer<typeof videoJobSchema>;

/** The multipart field of POST /api/people/:id/videos. */
export const videoUploadFormSchema = z.object({ video: z.string().meta({ format: 'binary' }).describe('One video file (MP4, WebM, MOV…), at most 200 MB and 10 minutes') });

export const videoConfirmBodySchema = z.object({
  faces: z
    .array(z.number({ error: 'faces must be the indexes of the chosen faces to add' }).int().min(0), { error: 'faces must be a list of face indexes, e.g. [0, 2, 3]' })
    .min(1, { error: 'faces is empty: pick at least one face to add, or discard the job' })
    .describe('The chosen faces to add (their `index`)'),
});

export const enrolResultSchema = z.object({
  person: personSchema,
  sampleIds: z.array(z.number().int()).describe('The samples added'),
  warnings: z.array(z.string()),
  lookAlikes: z.array(lookAlikeSchema),
});
export type EnrolResult = z.infer<typeof enrolResultSchema>;
