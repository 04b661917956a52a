#!/usr/bin/env node
/**
 * The `facestream` command: one subcommand per step of the seed's pipeline.
 * Exit codes: 0 success, 2 bad input (named on stderr), 1 anything else.
 */
import { describeUnexpected } from '../common/errors.js';
import { CalibrationError } from '../embedding/calibration.js';
import { ModelFileError } from '../models/manifest.js';
import { EXIT_BAD_INPUT, UsageError } from './args.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  detect: { summary: 'find faces: boxes, confidence, five keypoints', load: async () => (await import('./detect.js')).detectCommand },
  embed: { summary: 'face embeddings (--model mobilefacenet192|facenet128)', load: async () => (await import('./embed.js')).embedCommand },
  compare: { summary: 'are the largest faces of two images the same person?', load: async () => (await import('./compare.js')).compareCommand },
  enroll: {
    summary: 'enrol people from photos or a video (--name <person> <image...>|--video <file>, or --from <folder>)',
    load: async () => (await import('./enroll.js')).enrollCommand,
  },
  predict: { summary: 'who is each face? a name or unknown, with the top 3 candidates', load: async () => (await import('./predict.js')).predictCommand },
  train: { summary: 'train the SVM matcher on the gallery (--kernel linear|rbf)', load: async () => (await import('./train.js')).trainCommand },
  extract: { summary: 'faces from videos into one folder per person (for enroll --from)', load: async () => (await import('./extract.js')).extractCommand },
  evaluate: { summary: 'accuracy on a folder of people: top-1, precision/recall, open-set FAR and DIR', load: async () => (await import('./evaluate.js')).evaluateCommand },
  cluster: {
    summary: 'group the photos of a folder by face; BCubed against <folder>/<identity>/ labels',
    load: async () => (await import('./cluster.js')).clusterCommand,
  },
  people: { summary: 'the gallery: list, show, rename, remove, remove-sample, forget (everywhere, events too)', load: async () => (await import('./people.js')).peopleCommand },
  bench: { summary: 'benchmarks: accuracy (LFW pairs), vision (ms per frame and face)', load: async () => (await import('./bench.js')).benchCommand },
  users: { summary: 'the accounts that may log in: add <name> [--role viewer|admin], list, remove <name>', load: async () => (await import('./users.js')).usersCommand },
  serve: { summary: 'the server: live cameras, REST and the browser client (--camera name=url)', load: async () => (await import('./serve.js')).serveCommand },
  info: { summary: 'versions, backend, models and their verified status', load: async () => (await import('./info.js')).infoCommand },
  models: { summary: 'fetch and verify the model files from the npm registry', load: async () => (await import('./models.js')).modelsCommand },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`);
  return `usage: facestream <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nAdd --json to a command for machine-readable output.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : EXIT_BAD_INPUT;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`facestream: unknown command "${name}"\n\n${usage()}`);
    return EXIT_BAD_INPUT;
  }
  try {
    return await (
      await command.load()
    )(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`facestream ${name}: ${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (error instanceof ModelFileError || error instanceof CalibrationError) {
      process.stderr.write(`facestream: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`facestream: ${describeUnexpected(error)}\n`);
    process.exitCode = 1;
  },
);
