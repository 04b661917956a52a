/**
 * What a person's name may be. Names label boxes, name folders of an enrolment and appear in
 * paths a user types, so they are short, printable and cannot climb out of a folder.
 */
import { ServiceError } from '../common/errors.js';
import { FORGOTTEN, UNKNOWN } from '../common/match.js';

export const MAX_NAME_LENGTH = 64;

/** Why `name` cannot be a person's name, or undefined when it can. `name` is taken as given (trim first). */
export function personNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (name.length > MAX_NAME_LENGTH) return `a name has at most ${MAX_NAME_LENGTH} characters (this one has ${name.length})`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'a name cannot contain control characters';
  if (name.includes('/') || name.includes('\\')) return "a name cannot contain '/' or '\\'";
  if (name.includes('..')) return "a name cannot contain '..'";
  // the label of a face that matched nobody: no person may be called that
  if (name.toLowerCase() === UNKNOWN) return `"${UNKNOWN}" is the label of faces that match nobody`;
  // the label events keep once their person is forgotten: a new person so called would inherit them
  if (name.toLowerCase() === FORGOTTEN) return `"${FORGOTTEN}" is the label of events whose person was forgotten`;
  return undefined;
}

export class PersonNameError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    // a pasted 90,000-character "name" is named by its start, not echoed whole
    const shown = input.length > 80 ? `${input.slice(0, 80)}…` : input;
    super(`${JSON.stringify(shown)} is not a valid name: ${reason}`);
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

/**
 * A person's name as a request gives it (any JSON value, in `field`): the trimmed name, or a
 * ServiceError ('invalid', so HTTP 400) saying which rule it breaks. Every API route that
 * takes a name uses this, so a name the gallery refuses cannot enter through another door.
 */
export function personNameFrom(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ServiceError('invalid', `${field} must be a string: the person's name`);
  try {
    return validatePersonName(value);
  } catch (error) {
    if (error instanceof PersonNameError) throw new ServiceError('invalid', `${field}: ${error.message}`);
    throw error;
  }
}
