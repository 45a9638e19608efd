/**
 * Event types Kiro sends that the gateway does not know (docs/kiro-protocol-newer.md §5: new ones
 * appear with new models, e.g. reasoningContentEvent). They are dropped, never guessed at, but not
 * silently: each is counted, and the first of each type is logged so an operator learns Kiro moved.
 * The type comes from the upstream's frame headers, so the set of names kept (and exported as a
 * metric label) is capped; the payload is never logged, as it may carry the user's text.
 */

/** Distinct unknown types named individually; any further one is reported as {@link OTHER_EVENT_TYPE}. */
export const MAX_UNKNOWN_EVENT_TYPES = 16;
/** The name shared by unknown types beyond the cap. */
export const OTHER_EVENT_TYPE = 'other';
/** Longest name kept; longer ones are cut. */
const MAX_NAME_LENGTH = 64;
/** Characters a reported name may contain (header names are ASCII identifiers). */
const UNSAFE = /[^A-Za-z0-9_.:-]/g;

/** A name fit for logs and metric labels: safe characters only, at most 64 of them. */
export function eventTypeName(raw: string): string {
  const name = raw.replace(UNSAFE, '_').slice(0, MAX_NAME_LENGTH);
  return name === '' ? 'unnamed' : name;
}

/** The unknown event types one process has seen. */
export class UnknownEventTypes {
  private readonly seen = new Set<string>();
  private otherSeen = false;

  /** The name to report `rawType` under, and whether this process sees that name for the first time. */
  note(rawType: string): { name: string; first: boolean } {
    const name = eventTypeName(rawType);
    if (this.seen.has(name)) return { name, first: false };
    if (this.seen.size < MAX_UNKNOWN_EVENT_TYPES) {
      this.seen.add(name);
      return { name, first: true };
    }
    const first = !this.otherSeen;
    this.otherSeen = true;
    return { name: OTHER_EVENT_TYPE, first };
  }
}
