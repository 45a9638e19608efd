/**
 * kiro.rs's credentials.json: loading (single object or array, docs/kiro-protocol.md §11.2) and
 * atomic write-back. Unlike kiro.rs the single-object form is written back too: refresh tokens
 * rotate, and a rotated token that only lived in memory is a dead credential after a restart.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-file.js';
import { ConfigError, type GatewayConfig } from '../config.js';
import { machineIdFor } from '../credentials/machine-id.js';
import { isKiroEndpoint, KIRO_ENDPOINTS } from '../kiro/endpoint.js';
import { DISABLED_REASONS, type AuthMethod, type Credential, type CredentialFileEntry, type DisabledReason } from '../credentials/types.js';

/** Shape the file had when loaded; `missing` (no file or empty file) is written as an array. */
export type CredentialsFileForm = 'object' | 'array' | 'missing';

/** What {@link loadCredentialsFile} found. */
export interface LoadedCredentials {
  /** In file order. */
  credentials: Credential[];
  form: CredentialsFileForm;
  /** The raw entries by assigned id, so unknown keys survive a write-back. */
  originalEntries: Map<number, CredentialFileEntry>;
  /** Ids or machine ids were assigned or normalised: the file should be written back once. */
  needsWriteBack: boolean;
}

/** Order of known keys in written entries (kiro.rs's field order, then the gateway's additions). */
const WRITE_ORDER = [
  'id',
  'accessToken',
  'refreshToken',
  'profileArn',
  'expiresAt',
  'authMethod',
  'clientId',
  'clientSecret',
  'priority',
  'region',
  'authRegion',
  'apiRegion',
  'machineId',
  'email',
  'subscriptionTitle',
  'proxyUrl',
  'proxyUsername',
  'proxyPassword',
  'disabled',
  'disabledReason',
  'disabledUntil',
  'kiroApiKey',
  'endpoint',
] as const;

const KNOWN_KEYS: ReadonlySet<string> = new Set(WRITE_ORDER);

type StringField = Exclude<(typeof WRITE_ORDER)[number], 'id' | 'priority' | 'disabled'>;

/** The known keys whose values are strings: all but id, priority and disabled. */
const STRING_FIELDS = WRITE_ORDER.filter((key): key is StringField => key !== 'id' && key !== 'priority' && key !== 'disabled');

/**
 * Canonical auth method (§2.1, §2.5): `builder-id`/`iam` → `idc`; `api_key`/`apikey` or a
 * `kiroApiKey` → `api_key`; absent → `idc` with clientId+clientSecret, else `social`; anything
 * else → `social` (kiro.rs refreshes unknown methods with the social flow).
 */
export function canonicalAuthMethod(entry: Pick<CredentialFileEntry, 'authMethod' | 'kiroApiKey' | 'clientId' | 'clientSecret'>): AuthMethod {
  const method = entry.authMethod?.trim().toLowerCase();
  if (method === 'api_key' || method === 'apikey' || entry.kiroApiKey) return 'api_key';
  if (method === 'idc' || method === 'builder-id' || method === 'iam') return 'idc';
  if (!method) return entry.clientId && entry.clientSecret ? 'idc' : 'social';
  return 'social';
}

function describeEntry(path: string, index: number): string {
  return `credentials file ${path}: entry #${index + 1}`;
}

function checkEntry(raw: unknown, where: string): CredentialFileEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where} must be a JSON object`);
  const entry = raw as Record<string, unknown>;
  for (const key of STRING_FIELDS) {
    const v = entry[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new ConfigError(`${where}: ${key} must be a string`);
  }
  if (entry.id !== undefined && entry.id !== null && !(Number.isInteger(entry.id) && (entry.id as number) >= 1)) {
    throw new ConfigError(`${where}: id must be an integer >= 1`);
  }
  if (entry.priority !== undefined && entry.priority !== null && !Number.isInteger(entry.priority)) {
    throw new ConfigError(`${where}: priority must be an integer`);
  }
  if (entry.disabled !== undefined && entry.disabled !== null && typeof entry.disabled !== 'boolean') {
    throw new ConfigError(`${where}: disabled must be true or false`);
  }
  // A wire the gateway cannot speak would fail every request of the credential: refuse it up front.
  if (typeof entry.endpoint === 'string' && entry.endpoint !== '' && !isKiroEndpoint(entry.endpoint)) {
    throw new ConfigError(
      `${where}: endpoint ${JSON.stringify(entry.endpoint.slice(0, 40))} is not one of ${KIRO_ENDPOINTS.map((e) => `"${e}"`).join(', ')}`,
    );
  }
  return entry as CredentialFileEntry;
}

/** Empty strings and nulls mean "not set". */
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Turns one file entry into a Credential with the given id (canonical authMethod, machine id filled,
 * disabled state and reason). Exported for the admin API's add flow.
 */
export function toCredential(entry: CredentialFileEntry, id: number, configMachineId?: string): Credential {
  const authMethod = canonicalAuthMethod({
    authMethod: str(entry.authMethod),
    kiroApiKey: str(entry.kiroApiKey),
    clientId: str(entry.clientId),
    clientSecret: str(entry.clientSecret),
  });
  const cred: Credential = {
    id,
    authMethod,
    priority: typeof entry.priority === 'number' ? entry.priority : 0,
    machineId: '',
    disabled: entry.disabled === true,
  };
  for (const key of STRING_FIELDS) {
    if (key === 'authMethod' || key === 'machineId' || key === 'disabledReason' || key === 'disabledUntil') continue;
    const v = str(entry[key]);
    if (v !== undefined) (cred as unknown as Record<string, unknown>)[key] = v;
  }
  cred.machineId = machineIdFor({ id, machineId: str(entry.machineId), kiroApiKey: cred.kiroApiKey, refreshToken: cred.refreshToken }, configMachineId);

  if (cred.disabled) {
    // The gateway writes the reason next to `disabled` so automatic states (QuotaExceeded with its
    // reset date, TooManyFailures for self-heal) survive a restart; kiro.rs files have none → Manual.
    const reason = str(entry.disabledReason) as DisabledReason | undefined;
    cred.disabledReason = reason && DISABLED_REASONS.includes(reason) ? reason : 'Manual';
    const until = str(entry.disabledUntil);
    if (until && !Number.isNaN(Date.parse(until))) cred.disabledUntil = until;
  }
  if (authMethod === 'api_key' && !cred.kiroApiKey) {
    cred.disabled = true;
    cred.disabledReason = 'InvalidConfig';
  }
  return cred;
}

/**
 * Reads credentials.json. A missing or empty file gives zero credentials (the server still starts).
 * Ids are assigned (max + 1, in file order) and machine ids filled per §3; `needsWriteBack` tells
 * the store to persist those once.
 */
export async function loadCredentialsFile(path: string, opts: { machineId?: string } = {}): Promise<LoadedCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { credentials: [], form: 'missing', originalEntries: new Map(), needsWriteBack: false };
    }
    throw new ConfigError(`cannot read credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.trim() === '') return { credentials: [], form: 'missing', originalEntries: new Map(), needsWriteBack: false };

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // JSON.parse messages quote the input around the error position, which may be a token.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ConfigError(`credentials file ${path} is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
  const form: CredentialsFileForm = Array.isArray(parsed) ? 'array' : 'object';
  const rawEntries = Array.isArray(parsed) ? parsed : [parsed];
  const entries = rawEntries.map((raw, i) => checkEntry(raw, describeEntry(path, i)));

  const seen = new Set<number>();
  for (const [i, entry] of entries.entries()) {
    if (typeof entry.id !== 'number') continue;
    if (seen.has(entry.id)) throw new ConfigError(`${describeEntry(path, i)}: id ${entry.id} is used twice`);
    seen.add(entry.id);
  }
  let nextId = Math.max(0, ...seen) + 1;
  let needsWriteBack = false;
  const credentials: Credential[] = [];
  const originalEntries = new Map<number, CredentialFileEntry>();
  for (const entry of entries) {
    let id = entry.id;
    if (typeof id !== 'number') {
      id = nextId++;
      needsWriteBack = true;
    }
    const cred = toCredential(entry, id, opts.machineId);
    if (cred.machineId !== entry.machineId) needsWriteBack = true;
    credentials.push(cred);
    originalEntries.set(id, entry);
  }
  return { credentials, form, originalEntries, needsWriteBack };
}

/**
 * The file entry for a credential: known keys with default values omitted (priority 0, disabled
 * false, unset fields) unless the original entry spelled them out, unknown keys of the original
 * entry kept, original key order kept.
 */
export function toFileEntry(cred: Credential, original?: CredentialFileEntry): CredentialFileEntry {
  const values: Record<string, unknown> = {};
  for (const key of WRITE_ORDER) {
    let v: unknown = cred[key as keyof Credential];
    if (key === 'disabledReason' || key === 'disabledUntil') {
      if (!cred.disabled || (key === 'disabledReason' && v === 'Manual')) v = undefined;
    }
    const isDefault =
      v === undefined || v === '' || (key === 'priority' && v === 0) || (key === 'disabled' && v === false);
    if (isDefault && !(original && key in original && (key === 'priority' || key === 'disabled'))) continue;
    values[key] = v;
  }
  const out: Record<string, unknown> = {};
  if (original) {
    for (const key of Object.keys(original)) {
      if (!KNOWN_KEYS.has(key)) out[key] = original[key];
      else if (key in values) out[key] = values[key];
    }
  }
  for (const key of WRITE_ORDER) if (key in values && !(key in out)) out[key] = values[key];
  return out as CredentialFileEntry;
}

/**
 * Writes credentials.json atomically in the form it had: one object stays an object (while there is
 * exactly one credential), anything else is an array. Returns the form written.
 */
export async function saveCredentialsFile(
  path: string,
  credentials: readonly Credential[],
  form: CredentialsFileForm,
  originalEntries: ReadonlyMap<number, CredentialFileEntry> = new Map(),
): Promise<'object' | 'array'> {
  const entries = credentials.map((c) => toFileEntry(c, originalEntries.get(c.id)));
  const written = form === 'object' && entries.length === 1 ? 'object' : 'array';
  const json = JSON.stringify(written === 'object' ? entries[0] : entries, null, 2) + '\n';
  await writeFileAtomic(path, json);
  return written;
}

/** Id of the env KIRO_API_KEY credential: below every file id, so it sorts first and never collides. */
export const ENV_API_KEY_CREDENTIAL_ID = 0;

/**
 * The credential kiro.rs adds for env `KIRO_API_KEY` (config `kiroApiKeyCredential`): an API-key
 * credential at the front with priority 0. It lives only in memory, never in credentials.json.
 */
export function envApiKeyCredential(config: Pick<GatewayConfig, 'kiroApiKeyCredential' | 'machineId'>): Credential | undefined {
  const key = config.kiroApiKeyCredential.trim();
  if (!key) return undefined;
  return {
    id: ENV_API_KEY_CREDENTIAL_ID,
    authMethod: 'api_key',
    kiroApiKey: key,
    priority: 0,
    machineId: machineIdFor({ id: ENV_API_KEY_CREDENTIAL_ID, kiroApiKey: key }, config.machineId),
    disabled: false,
  };
}
