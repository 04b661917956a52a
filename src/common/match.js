/**
 * What a matcher answers for one face: the stage contract between recognition (which makes the
 * answers) and the pipeline, events and interfaces (which use them). Declared once, here.
 */
/**
 * The label of a face that matches nobody: the matchers' answer, a vote's verdict, an event's
 * label. No person may be called that (recognition/person-name.ts).
 */
export const UNKNOWN = 'unknown';
//# sourceMappingURL=match.js.map