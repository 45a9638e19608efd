/**
 * Routing a request by model (docs/kiro-protocol-newer.md §3): only credentials whose model list
 * holds the resolved Kiro model are tried, and when none does the client gets a 404 naming the
 * models that are offered, instead of attempts burned on accounts that cannot serve it.
 */
import type { CredentialModels, ModelNeeds } from '../credentials/model-lists.js';
import { NotFoundError } from '../errors.js';
import type { Credential, CredentialRecord } from '../credentials/types.js';

export interface ModelRouting {
  /** The pool's per-request filters. */
  readonly filters: {
    accepts?: (record: CredentialRecord) => boolean;
    admit?: (credential: Credential, token: string) => Promise<boolean>;
  };
  /** Runs the pool call; a failure when no credential offers the model (learned late) becomes that 404. */
  run<T>(call: () => Promise<T>): Promise<T>;
}

/**
 * Converts the request, first learning the model lists still unknown when the known ones cannot
 * place its model (a version nobody is known to offer, or one no credential serves), or when it
 * carries images (whether a model takes them is only known from its list): the answer must not
 * depend on which credentials happened to have served a request before.
 */
export async function placeModel<T extends { kiroModelId: string; modelSubstituted: boolean }>(
  models: CredentialModels | undefined,
  convert: () => T,
  needs: { images: boolean } = { images: false },
): Promise<T> {
  if (needs.images && models?.hasUnknown()) await models.learnMissing();
  let converted: T;
  try {
    converted = convert();
  } catch (err) {
    if (!(err instanceof NotFoundError) || !models?.hasUnknown()) throw err;
    await models.learnMissing();
    return convert();
  }
  if (models?.hasUnknown() && (converted.modelSubstituted || !models.servable(converted.kiroModelId))) {
    await models.learnMissing();
    converted = convert();
  }
  return converted;
}

const NO_ROUTING: ModelRouting = { filters: {}, run: (call) => call() };

/**
 * The routing of one request for `kiroModelId`; with images, only credentials whose list lets the
 * model take them (one account's entry may differ from another's).
 * @throws NotFoundError at once when no credential (enabled or not) offers the model; when only
 *   disabled ones do, the pool answers 529 like any request without a usable credential.
 */
export function modelRouting(
  models: CredentialModels | undefined,
  requested: string,
  kiroModelId: string,
  needs: ModelNeeds = {},
): ModelRouting {
  if (!models) return NO_ROUTING;
  if (!models.servable(kiroModelId)) throw models.notServable(requested, kiroModelId);
  return {
    filters: {
      accepts: (record) => models.offers(record, kiroModelId, needs),
      admit: models.enabled ? (credential, token) => models.admit(credential, token, kiroModelId, needs) : undefined,
    },
    async run(call) {
      try {
        return await call();
      } catch (err) {
        if (!models.servable(kiroModelId)) throw models.notServable(requested, kiroModelId);
        throw err;
      }
    },
  };
}
