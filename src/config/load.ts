/**
 * Loads the configuration: config/default.yaml, then a user file (--config), then
 * FACESTREAM_* environment variables, then command-line flags. Validation happens once, at the
 * end, and the error names every bad key with its value.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { redactText } from '../common/redact.js';
import { REPO_ROOT } from '../models/manifest.js';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = path.join(REPO_ROOT, 'config', 'default.yaml');

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`config file ${file} cannot be read: check the path given to --config`);
  }
  try {
    const value: unknown = parseYaml(text) ?? {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error('the top level must be a mapping of keys');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${redactYamlMessage((error as Error).message)}`);
  }
}

/** A line of YAML (as a parse error quotes it) that sets a secret key: what follows the key is hidden. */
const SECRET_LINE = /^(.*?(?:pass(?:word|wd|phrase)?|pwd|secret|token|api_?key|credential)[\w-]*["']?\s*[:=]).*$/gim;

/** A YAML parser's message (it quotes the lines around the error) with secrets and URLs hidden. Pure. */
export function redactYamlMessage(message: string): string {
  return redactText(message.replace(SECRET_LINE, '$1 ***'));
}

/** Deep merge of plain objects; arrays and scalars from `over` replace. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object' && !Array.isArray(current)
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/** FACESTREAM_SERVER_PORT=9000 → { server: { port: 9000 } }; values parsed as YAML scalars. */
export function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const map: Record<string, string[]> = {
    FACESTREAM_HOST: ['server', 'host'],
    FACESTREAM_PORT: ['server', 'port'],
    FACESTREAM_ADMIN_PASSWORD: ['server', 'adminPassword'],
    FACESTREAM_DATA_DIR: ['dataDir'],
    FACESTREAM_SNAPSHOT_DIR: ['snapshotDir'],
    FACESTREAM_DATABASE_URL: ['database', 'url'],
    FACESTREAM_MODEL: ['recognition', 'model'],
    FACESTREAM_MATCHER: ['recognition', 'matcher'],
    FACESTREAM_RUNTIME: ['runtime'],
    FACESTREAM_MQTT_URL: ['mqtt', 'url'],
    FACESTREAM_MQTT_USERNAME: ['mqtt', 'username'],
    FACESTREAM_MQTT_PASSWORD: ['mqtt', 'password'],
    FACESTREAM_REDIS_URL: ['cluster', 'redisUrl'],
    FACESTREAM_NODE_ID: ['cluster', 'nodeId'],
  };
  let out: Record<string, unknown> = {};
  for (const [name, keys] of Object.entries(map)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = parseYaml(raw);
    for (const key of [...keys].reverse()) value = { [key]: value };
    out = merge(out, value as Record<string, unknown>);
  }
  return out;
}

/** Keys whose values are never printed: server.adminPassword, and any password, secret or token. */
const SECRET_KEY = /pass(?:word|wd|phrase)?$|pwd|secret|token|api_?key|credential/i;

/**
 * `value` as it may be printed: values under secret keys become "***", URLs (camera urls, and
 * any string quoting one) are redacted, objects and arrays are walked (an issue about a whole
 * object, such as an unknown key in `server`, would print everything in it). Pure.
 */
export function safeValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (!value || typeof value !== 'object') return value;
  if (depth > 8) return '…';
  if (Array.isArray(value)) return value.map((item) => safeValue(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, SECRET_KEY.test(key) ? '***' : safeValue(item, depth + 1)]));
}

/** One line per issue, with the key and its value (secrets hidden, as `safeValue`). Pure. */
export function formatIssues(error: z.ZodError, input: unknown): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.join('.') || '(top level)';
      let value: unknown = input;
      for (const p of issue.path) value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[p] : undefined;
      const secret = issue.path.some((p) => typeof p === 'string' && SECRET_KEY.test(p));
      const shown = value === undefined ? '' : `=${secret ? '"***"' : JSON.stringify(safeValue(value))}`;
      return `  ${key}${shown}: ${issue.message}`;
    })
    .join('\n');
}

export interface LoadOptions {
  file?: string;
  overrides?: Record<string, unknown>;
  /** Cameras from the command line: added to the file's, replacing one with the same id. */
  cameras?: Record<string, unknown>[];
  env?: NodeJS.ProcessEnv;
}

export function loadConfig({ file, overrides = {}, cameras = [], env = process.env }: LoadOptions = {}): Config {
  let raw = readYaml(DEFAULT_CONFIG_PATH);
  if (file) raw = merge(raw, readYaml(file));
  raw = merge(merge(raw, fromEnv(env)), overrides);
  if (cameras.length) {
    const ids = new Set(cameras.map((c) => c.id));
    const fromFile: unknown[] = Array.isArray(raw.cameras) ? raw.cameras : [];
    // an entry of the file may be anything (the schema reports it below): only an object has an id
    const replaced = (c: unknown) => typeof c === 'object' && c !== null && 'id' in c && typeof c.id === 'string' && ids.has(c.id);
    raw = { ...raw, cameras: [...fromFile.filter((c) => !replaced(c)), ...cameras] };
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid configuration:\n${formatIssues(result.error, raw)}`);
  return result.data;
}

/** A node's id when cluster.nodeId is not set: its host name and the port it listens on. */
export function defaultNodeId(port: number): string {
  return `${os.hostname()}:${port}`;
}
