/**
 * `GET /v1/models` for both APIs: what the pool offers (the union of its credentials' model lists,
 * else the built-in table), in each API's shape, rebuilt only when the offer changes. A key limited
 * to some models lists only those, whichever way it asks.
 */
import { BUILTIN_MODELS, type OfferedModel } from '../kiro/models.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import type { ClientKeyContext } from '../keys/key-context.js';

export interface KeyModelList<M, L> {
  /** The models the key may see, in the API's shape. */
  data: readonly M[];
  /** The whole list answer around them. */
  list: L;
}

/**
 * @param entriesOf the API's entries for an offer (one per model)
 * @param wrap the API's list answer around some entries
 */
export function modelListForKey<M extends { id: string }, L>(
  models: CredentialModels | undefined,
  entriesOf: (offered: readonly OfferedModel[]) => readonly M[],
  wrap: (data: readonly M[]) => L,
): (key: ClientKeyContext) => KeyModelList<M, L> {
  let built: { from: readonly OfferedModel[]; all: KeyModelList<M, L> } | undefined;
  return (key) => {
    const offered = models?.offered() ?? BUILTIN_MODELS;
    if (built?.from !== offered) {
      const data = entriesOf(offered);
      built = { from: offered, all: { data, list: wrap(data) } };
    }
    if (!key.record?.models.length) return built.all;
    const data = built.all.data.filter((m) => key.allowsModel(m.id));
    return { data, list: wrap(data) };
  };
}
