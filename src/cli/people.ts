/**
 * `facestream people list | show <name> | rename <old> <new> | remove <name> | remove-sample <id>
 *  | forget <name> [--json] [--data-dir dir]`: who is enrolled, with what, and changes to them.
 * `forget` is `remove` and more: the events that named the person lose the name and their
 * snapshots too (the privacy service, as POST /api/people/:id/forget).
 */
import { SnapshotStore } from '../events/snapshots.js';
import { validatePersonName } from '../recognition/person-name.js';
import { PrivacyService } from '../services/privacy.service.js';
import { GalleryMissingError } from '../storage/database.js';
import { EventsRepository } from '../storage/events.repository.js';
import { EXIT_BAD_INPUT, UsageError, parse, printJson, printTable, rounded } from './args.js';
import { dataDirOption, openGallery, withGalleryErrors, type OpenGallery } from './gallery-args.js';

const USAGE = 'facestream people list | show <name> | rename <old> <new> | remove <name> | remove-sample <id> | forget <name> [--json] [--data-dir dir]';

const ARITY: Record<string, number> = { list: 0, show: 1, rename: 2, remove: 1, 'remove-sample': 1, forget: 1 };

export async function peopleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    json: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
  });
  const [action, ...args] = positionals;
  if (!action || !(action in ARITY)) throw new UsageError(action ? `unknown action "${action}": ${USAGE}` : USAGE);
  if (args.length !== ARITY[action]) throw new UsageError(`people ${action} takes ${ARITY[action]} argument${ARITY[action] === 1 ? '' : 's'}: ${USAGE}`);
  const dataDir = dataDirOption(values['data-dir']);
  const json = values.json;

  return withGalleryErrors(async () => {
    let gallery: OpenGallery;
    try {
      gallery = await openGallery(dataDir, { create: false });
    } catch (error) {
      if (error instanceof GalleryMissingError && action === 'list') {
        if (json) printJson([]);
        else process.stdout.write(`nobody is enrolled (no gallery in ${dataDir})\n`);
        return 0;
      }
      throw error;
    }
    try {
      return await run(gallery, action, args, json, dataDir);
    } finally {
      await gallery.close();
    }
  });
}

async function run({ store, people }: OpenGallery, action: string, args: string[], json: boolean, dataDir: string): Promise<number> {
  switch (action) {
    case 'list': {
      const list = await people.listPeople();
      if (json) printJson(list);
      else if (list.length === 0) process.stdout.write('nobody is enrolled\n');
      else
        printTable(
          ['name', 'samples', 'created'],
          list.map((p) => [p.name, describeCounts(p.samples), p.createdAt]),
        );
      return 0;
    }
    case 'show': {
      const person = await people.getPerson(args[0]);
      const samples = (await people.listSamples(person.id)).map((s) => ({ ...s, crop: s.cropPath && people.cropFile(s.cropPath) }));
      if (json) printJson(rounded({ ...person, samples }, 4));
      else {
        process.stdout.write(`${person.name} (id ${person.id}, enrolled ${person.createdAt}), ${samples.length} sample${samples.length === 1 ? '' : 's'}\n`);
        printTable(
          ['id', 'model', 'size', 'sharpness', 'roll', 'yaw', 'source', 'crop'],
          samples.map((s) => [
            s.id,
            s.model,
            Math.round(s.quality.size),
            Math.round(s.quality.sharpness),
            Math.round(s.quality.roll),
            Math.round(s.quality.yaw),
            s.source.kind + (s.source.path ? ` ${s.source.path}` : '') + (s.source.time !== undefined ? ` @${s.source.time}s` : ''),
            s.crop ?? '-',
          ]),
        );
      }
      return 0;
    }
    case 'rename': {
      const renamed = await people.renamePerson(args[0], validatePersonName(args[1]));
      if (json) printJson(renamed);
      else process.stdout.write(`renamed ${args[0]} to ${renamed.name}\n`);
      return 0;
    }
    case 'remove': {
      const { person, samples } = await people.removePerson(args[0]);
      if (json) printJson({ removed: person, samples });
      else process.stdout.write(`removed ${person.name} and ${samples} sample${samples === 1 ? '' : 's'}\n`);
      return 0;
    }
    case 'remove-sample': {
      const id = Number(args[0]);
      if (!Number.isInteger(id) || id <= 0) throw new UsageError(`"${args[0]}" is not a sample id (a positive whole number)`);
      const { sample, person } = await people.removeSample(id);
      if (json) printJson(rounded({ removed: sample, person }, 4));
      else process.stdout.write(`removed sample ${sample.id} of ${person.name}\n`);
      return 0;
    }
    case 'forget': {
      const privacy = new PrivacyService({ store, people, events: new EventsRepository(store.db), snapshots: new SnapshotStore(dataDir), blurUnknownForViewers: false });
      const result = await privacy.forget(args[0]);
      if (json) printJson(result);
      else
        process.stdout.write(
          `forgot ${result.forgotten}: ${result.samplesDeleted} sample${result.samplesDeleted === 1 ? '' : 's'} deleted, ` +
            `${result.eventsForgotten} event${result.eventsForgotten === 1 ? '' : 's'} now labelled "forgotten", ${result.filesDeleted} file${result.filesDeleted === 1 ? '' : 's'} deleted\n`,
        );
      return 0;
    }
  }
  return EXIT_BAD_INPUT;
}

function describeCounts(samples: Record<string, number>): string {
  const entries = Object.entries(samples);
  return entries.length ? entries.map(([model, n]) => `${n} ${model}`).join(', ') : 'none';
}
