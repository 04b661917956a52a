/**
 * What a person's name may be. Names label boxes, name folders of an enrolment and appear in
 * paths a user types, so they are short, printable and cannot climb out of a folder.
 */

export const MAX_NAME_LENGTH = 64;

/** The label of a face that matched nobody; no person may be called that. */
export const UNKNOWN_LABEL = 'unknown';

/** Why `name` cannot be a person's name, or undefined when it can. `name` is taken as given (trim first). */
export function personNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (name.length > MAX_NAME_LENGTH) return `a name has at most ${MAX_NAME_LENGTH} characters (this one has ${name.length})`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'a name cannot contain control characters';
  if (name.includes('/') || name.includes('\\')) return "a name cannot contain '/' or '\\'";
  if (name.includes('..')) return "a name cannot contain '..'";
  if (name.toLowerCase() === UNKNOWN_LABEL) return `"${UNKNOWN_LABEL}" is the label of faces that match nobody`;
  return undefined;
}

export class PersonNameError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(input)} is not a valid name: ${reason}`);
    this.name = 'PersonNameError';
  }
}

/** The name with surrounding spaces removed, or a PersonNameError saying what is wrong with it. */
export function validatePersonName(input: string): string {
  const name = input.trim();
  const problem = personNameProblem(name);
  if (problem) throw new PersonNameError(input, problem);
  return name;
}
