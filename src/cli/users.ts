/**
 * `facestream users add <name> [--role viewer|admin] | list | remove <name> [--json] [--data-dir dir]`:
 * the accounts that may log in, kept in the data directory's database (or PostgreSQL's, with
 * FACESTREAM_DATABASE_URL, as the server). The password of `add` is
 * read from standard input (one line; asked for without echo on a terminal), never from an
 * argument, which every local user could read in the process list. A running server takes new
 * accounts, and refuses the sessions of removed ones, at once.
 */
import { createInterface } from 'node:readline';
import { ServiceError } from '../common/errors.js';
import { ROLES } from '../contract/access.js';
import { AccountsRepository } from '../storage/accounts.repository.js';
import { Auth, hashPassword, isRole } from '../server/auth.js';
import { UsageError, parse, printJson, printTable } from './args.js';
import { dataDirOption, openCommandStore } from './gallery-args.js';

const USAGE = 'facestream users add <name> [--role viewer|admin] | list | remove <name> [--json] [--data-dir dir]';
const ARITY: Record<string, number> = { add: 1, list: 0, remove: 1 };

/** One line from standard input; on a terminal, asked for with the typed characters hidden. */
async function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  const rl = createInterface({ input, output: process.stderr, terminal: input.isTTY });
  if (input.isTTY) {
    process.stderr.write(prompt);
    // readline echoes through _writeToOutput; hide what is typed
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  try {
    for await (const line of rl) return line;
    throw new UsageError('no password on standard input: pipe it in (printf %s "$PASSWORD" | facestream users add …) or run on a terminal');
  } finally {
    if (input.isTTY) process.stderr.write('\n');
    rl.close();
  }
}

export async function usersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    role: { type: 'string', default: 'viewer' },
    json: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
  });
  const [action, ...args] = positionals;
  if (!action || !(action in ARITY)) throw new UsageError(action ? `unknown action "${action}": ${USAGE}` : USAGE);
  if (args.length !== ARITY[action]) throw new UsageError(`users ${action} takes ${ARITY[action]} argument${ARITY[action] === 1 ? '' : 's'}: ${USAGE}`);
  if (!isRole(values.role)) throw new UsageError(`--role ${values.role} must be one of ${ROLES.join(', ')}`);
  const role = values.role;
  const password = action === 'add' ? await readPassword(`password for ${args[0]}: `) : '';
  const adminPassword = process.env.FACESTREAM_ADMIN_PASSWORD;
  const store = await openCommandStore(dataDirOption(values['data-dir']), { create: action === 'add' });
  try {
    const auth = new Auth(adminPassword ? hashPassword(adminPassword) : null, new AccountsRepository(store.db));
    switch (action) {
      case 'add': {
        const account = await auth.addAccount(args[0], password, role);
        if (values.json) printJson(account);
        else process.stdout.write(`added ${account.name} (${account.role})\n`);
        return 0;
      }
      case 'remove': {
        await auth.removeAccount(args[0]);
        if (values.json) printJson({ removed: args[0] });
        else process.stdout.write(`removed ${args[0]}; their sessions ended\n`);
        return 0;
      }
      default: {
        const accounts = await auth.listAccounts();
        if (values.json) printJson({ users: accounts });
        else if (accounts.length === 0) process.stdout.write('no account: the server asks for no login (loopback only)\n');
        else
          printTable(
            ['name', 'role', 'from', 'created'],
            accounts.map((a) => [a.name, a.role, a.source, a.createdAt ?? '']),
          );
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof ServiceError) throw new UsageError(error.message);
    throw error;
  } finally {
    await store.close();
  }
}
