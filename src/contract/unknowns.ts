/**
 * Unknown people, grouped, over REST: the groups the cameras' unknown faces formed (shown from
 * a few faces on), one group with its kept faces, and what a person does with a group: name it
 * (its faces join the gallery, its events are relabelled), merge it into another, or forget it.
 */
import { z } from 'zod';
import { faceQualitySchema } from './people.js';
import { positiveIdParam } from './http.js';

export const unknownGroupSchema = z
  .object({
    id: z.number().int(),
    faceCount: z.number().int().describe('Faces that joined the group (at most 50 are kept)'),
    eventCount: z.number().int().describe('Events (visits) of the group'),
    cameras: z.array(z.string()).describe('Cameras that saw it, most faces first'),
    firstSeen: z.iso.datetime(),
    lastSeen: z.iso.datetime(),
    thumbnailUrl: z.string().nullable().describe('Its best kept face (JPEG)'),
  })
  .describe('An unknown person: unknown faces grouped by similarity');
export type UnknownGroupView = z.infer<typeof unknownGroupSchema>;

export const unknownGroupListSchema = z.object({
  groups: z.array(unknownGroupSchema).describe('Groups of at least 3 faces, the largest first'),
});
export type UnknownGroupList = z.infer<typeof unknownGroupListSchema>;

export const unknownFaceSchema = z.object({
  id: z.number().int(),
  cameraId: z.string(),
  eventId: z.string().nullable().describe('The event the face was seen in'),
  seenAt: z.iso.datetime(),
  quality: faceQualitySchema,
  imageUrl: z.string().nullable().describe('The aligned face crop (JPEG)'),
});
export type UnknownFaceView = z.infer<typeof unknownFaceSchema>;

export const unknownGroupDetailSchema = unknownGroupSchema.extend({ faces: z.array(unknownFaceSchema).describe('The kept faces, best first') });
export type UnknownGroupDetail = z.infer<typeof unknownGroupDetailSchema>;

export const unknownParamsSchema = z.object({ id: positiveIdParam('unknown group') });
export const unknownFaceParamsSchema = z.object({ id: positiveIdParam('unknown group'), faceId: positiveIdParam('face') });

/** POST /api/unknowns/:id/name. The name rules are the gallery's (as POST /api/people), applied by the server. */
export const nameUnknownBodySchema = z.object({
  person: z
    .string({ error: "person must be a string: the person's name (new, or someone already enrolled)" })
    .describe('A new name creates the person; an existing one adds to them'),
});

export const nameUnknownResultSchema = z.object({
  person: z.object({ id: z.number().int(), name: z.string() }),
  samplesAdded: z.number().int().describe("The group's best varied faces enrolled after the quality gates"),
  eventsRelabeled: z.number().int().describe('Past events of the group now named for the person'),
  warnings: z.array(z.string()).describe('Look-alike warnings, as enrolment gives them'),
});
export type NameUnknownResult = z.infer<typeof nameUnknownResultSchema>;

/** POST /api/unknowns/:id/merge. */
export const mergeUnknownBodySchema = z.object({
  into: z
    .number({ error: 'into must be the id of the unknown group to merge into (a whole number)' })
    .int({ error: 'into must be a whole number: the id of another unknown group' })
    .positive({ error: 'into must be a positive group id' }),
});
