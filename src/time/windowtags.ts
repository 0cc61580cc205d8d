import { Rec, type Tags } from '../pipeline/record.js';
import { WINDOW_TYPES, type WindowSpec, type WindowType } from './windowspec.js';

/**
 * The window tags: what `window` tells `aggregate` about each record, and the `$window` line that announces them.
 * This file is their only owner — the names, how they ride on a record, their text, and how they are read back.
 *
 * Between the two stages, in a pipe, flows this NDJSON. In a fused run the same records flow as objects: the tags
 * ride on the record (`Rec.tags`, a WindowTags — every record of a tumbling window shares one frozen window list),
 * `aggregate` reads them there, and they only become text when someone reads the record's text (the encoder,
 * --late, a dead-letter file). A later stage that reads a tag from the value finds it there too: the decoder then
 * gave the record a view with that field, which the tag overwrites in place; full values are copied with the tags
 * added. So both modes give byte-identical results:
 *
 *   {"$kstream":{"window":{"type":"tumbling","size":10000,"offset":0,"grace":0,"time":"r.ts","by":null}}}
 *       First line, written before anything else: the window spec. Per type: tumbling size, offset;
 *       hopping size, advance, offset; sliding diff; session gap; count size, partial. Time types also carry
 *       grace and time (the --time expression, "ts" for the record timestamp, or "processing"). `by` is the
 *       --by expression, "key" when per-key windows use the Kafka record key, or null.
 *
 *   {"page":"/a","ts":1767225605000,"@time":1767225605000,"@windows":[{"start":1767225600000,"end":1767225610000}]}
 *       Each accepted record, unchanged, with tags appended (one line per input record):
 *         @time     event time in ms (count windows: only when known from --time or the record timestamp)
 *         @windows  the record's windows, ascending by start — tumbling 1, hopping size/advance, session the
 *                   session after merging, count [{"index":i}]. Sliding windows list what the record does, in
 *                   the order of KS's processInOrder/processEarly (time/windowassign.ts): {"start","end"} windows it is added to, a "from":{"start","end"} on
 *                   a new window that starts from a copy of that window's aggregate, and "add":false on a window
 *                   the record creates but is not in. `start`/`end` are [start, end) for tumbling/hopping and
 *                   [start, end] (inclusive) for sliding and session windows.
 *         @key      the group key, when the window stage has one (--by; session/sliding/count default to the
 *                   Kafka record key when there is one)
 *         @merged   session windows only: the sessions this record merged into @windows, to be retracted
 *       A record whose value is not an object is wrapped: {"@value":<value>,"@time":…,…}.
 *       Tag names start with "@" and are reserved: a record field with the same name is shadowed.
 */

/** The control record a `window` stage writes first (`{"$kstream":{"window":…}}`): its spec. */
export const WINDOW_CONTROL = '$window';

const TIME = '@time';
const WINDOWS = '@windows';
const KEY = '@key';
const MERGED = '@merged';
const VALUE = '@value';
/** The members the tags add to a record's text, in the order they are written (the wrapper last). */
export const TAG_MEMBERS = [TIME, WINDOWS, KEY, MERGED, VALUE] as const;
// the same, as text to splice in (built once, not per record)
const TIME_AT = `,"${TIME}":`;
const WINDOWS_AT = `,"${WINDOWS}":`;
const KEY_AT = `,"${KEY}":`;
const MERGED_AT = `,"${MERGED}":`;
const VALUE_OPEN = `{"${VALUE}":`;

/**
 * One record's tags, on the record itself (`Rec.tags`). Undefined where a tag is absent — not -1: a field that only
 * ever held numbers would get a boxed double in every object.
 */
export class WindowTags implements Tags {
  constructor(
    /** Event time in ms; undefined for count windows without one. */
    readonly time: number | undefined,
    /** The record's windows; a shared list may carry its JSON text (time/windowassign.ts, WinList). */
    readonly windows: readonly object[],
    /** The group key; undefined when the window stage has none. */
    readonly key: unknown,
    /** Session windows: the sessions this record merged. */
    readonly merged: readonly object[] | undefined,
  ) {}

  /**
   * The text of the tagged record: its tags as members appended before the closing brace of the object (a value
   * that is not an object is wrapped as {"@value":…}). Built from the original text; nothing is re-serialised.
   */
  splice(text: string): string {
    const wins = this.windows as readonly object[] & { json?: string };
    let tags = (this.time !== undefined ? TIME_AT + this.time + WINDOWS_AT : WINDOWS_AT) + (wins.json ?? JSON.stringify(wins));
    if (this.key !== undefined) tags += KEY_AT + JSON.stringify(this.key);
    if (this.merged !== undefined) tags += MERGED_AT + JSON.stringify(this.merged);
    let a = 0;
    let c = text.charCodeAt(0);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++a);
    if (c !== 123) return VALUE_OPEN + text + tags + '}';
    const e = text.lastIndexOf('}');
    let j = e - 1;
    while (j >= 0 && ((c = text.charCodeAt(j)) === 32 || c === 9 || c === 10 || c === 13)) j--;
    return text.slice(0, e) + (text.charCodeAt(j) === 123 ? tags.slice(1) : tags) + text.slice(e);
  }
}

/**
 * Which tag fields the decoder's views have: the decoder adds them after a `$window` line, or when a later stage
 * reads one. Worked out once per view class (all views of one decoder share one) — bits 1 @time, 2 @windows,
 * 4 @key, 8 @merged.
 */
class ViewFields {
  private cls: unknown;
  private bits = 0;

  of(view: object): number {
    if (view.constructor !== this.cls) {
      this.cls = view.constructor;
      this.bits = (Object.hasOwn(view, TIME) ? 1 : 0) | (Object.hasOwn(view, WINDOWS) ? 2 : 0) | (Object.hasOwn(view, KEY) ? 4 : 0) | (Object.hasOwn(view, MERGED) ? 8 : 0);
    }
    return this.bits;
  }
}

/** Attaches the tags to records, one per window stage. */
export class TagWriter {
  private readonly fields = new ViewFields();

  /**
   * Tags the record itself (no new record): for `aggregate` in this process, and for its text. `t` < 0: no event
   * time. The value must show the tags too, to any later stage that reads them: a view gets them in the fields
   * the decoder made for them (none when no stage reads them); a full value is copied — it may be shared (a
   * flatmap can emit one object twice) — with the tags added, or wrapped when it is not an object.
   */
  tag(rec: Rec, v: unknown, t: number, wins: readonly object[], key: unknown, merged: readonly object[] | undefined): void {
    rec.tag(new WindowTags(t >= 0 ? t : undefined, wins, key, merged));
    if (rec.partial) {
      const view = v as Record<string, unknown>;
      const f = this.fields.of(view);
      if (f === 0) return;
      if (f & 1 && t >= 0) view[TIME] = t;
      if (f & 2) view[WINDOWS] = wins;
      if (f & 4 && key !== undefined) view[KEY] = key;
      if (f & 8 && merged !== undefined) view[MERGED] = merged;
      return;
    }
    let o: Record<string, unknown>;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      o = { [VALUE]: v };
    } else {
      // Object.assign, not spread: V8 makes adding the tags to a spread copy ~10x slower.
      o = Object.assign({}, v as Record<string, unknown>);
    }
    if (t >= 0) o[TIME] = t;
    o[WINDOWS] = wins;
    if (key !== undefined) o[KEY] = key;
    if (merged) o[MERGED] = merged;
    rec.value = o;
  }
}

/**
 * Reads the tags back (`aggregate`), from wherever they are: on the record when `window` ran in this process
 * (`attached`), else in the value's members (read from a pipe: `tv` is the value when it is an object). A tag the
 * window did not attach is looked up in the value as well, as a reader of the piped text would find it.
 */
export class TagReader {
  private readonly fields = new ViewFields();

  /** The tags `window` attached in this process; undefined for a record that came through a pipe. */
  attached(rec: Rec): WindowTags | undefined {
    const t = rec.tags;
    return t instanceof WindowTags ? t : undefined;
  }

  /** Whether a view shows the tags; when it does not (its decoder never saw the `$window` line), the full value must be parsed. */
  inView(view: object): boolean {
    return (this.fields.of(view) & 2) !== 0;
  }

  /** The value as `window` got it: unwrapped when it was not an object. */
  value(tv: Record<string, unknown> | undefined, v: unknown): unknown {
    return tv !== undefined && tv[VALUE] !== undefined ? tv[VALUE] : v;
  }

  /** The record's windows (an array when it came from `window`). */
  windows(tags: WindowTags | undefined, tv: Record<string, unknown> | undefined): unknown {
    if (tags !== undefined) return tags.windows;
    return tv !== undefined ? tv[WINDOWS] : undefined;
  }

  /** Event time: the tag, else the record timestamp `ts`. */
  time(tags: WindowTags | undefined, tv: Record<string, unknown> | undefined, ts: number | undefined): number | undefined {
    if (tags !== undefined && tags.time !== undefined) return tags.time;
    const x = tv !== undefined ? tv[TIME] : undefined;
    return typeof x === 'number' ? x : ts;
  }

  /** The group key, undefined for none; one read from text goes through `fromText` (the window's own is normalised already). */
  key(tags: WindowTags | undefined, tv: Record<string, unknown> | undefined, fromText: (k: unknown) => unknown): unknown {
    const k = tags !== undefined ? tags.key : undefined;
    if (k !== undefined || tv === undefined) return k;
    const x = tv[KEY];
    return x === undefined ? undefined : fromText(x);
  }

  /** Session windows: the sessions the record merged. */
  merged(tags: WindowTags | undefined, tv: Record<string, unknown> | undefined): unknown {
    if (tags !== undefined && tags.merged !== undefined) return tags.merged;
    return tv !== undefined ? tv[MERGED] : undefined;
  }

  /** Whether a whole value carries window tags (records from `window` whose `$window` line was lost). */
  carried(v: unknown): boolean {
    return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[WINDOWS] !== undefined;
  }
}

/**
 * The `$window` control record that announces `spec`. `partitioned`: the stage keeps stream time per input
 * partition, so a record's time may be ahead of its stream time and what follows closes windows by the watermark
 * lines alone. How the stage reads its input, not what the windows are: not part of the spec.
 */
export function windowControl(spec: WindowSpec, partitioned = false): Rec {
  const payload = specPayload(spec);
  if (partitioned) payload.partitioned = true;
  return Rec.control(WINDOW_CONTROL, payload);
}

/** Whether a `$window` payload says its stage keeps stream time per input partition (see windowControl). */
export function announcedPartitioned(payload: unknown): boolean {
  return payload !== null && typeof payload === 'object' && (payload as { partitioned?: unknown }).partitioned === true;
}

/** The payload of the `$window` control record: only the fields of the type, in a fixed order. */
export function specPayload(s: WindowSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { type: s.type };
  if (s.type === 'tumbling' || s.type === 'hopping') {
    o.size = s.size;
    if (s.type === 'hopping') o.advance = s.advance;
    o.offset = s.offset;
  } else if (s.type === 'sliding') o.diff = s.diff;
  else if (s.type === 'session') o.gap = s.gap;
  else { o.size = s.size; o.partial = s.partial; }
  if (s.type !== 'count') { o.grace = s.grace; o.time = s.time; }
  o.by = s.by;
  return o;
}

/** Reads a `$window` payload back (piped mode); throws on anything a window stage would not have written. */
export function specFromPayload(p: unknown): WindowSpec {
  const o = p as Record<string, unknown>;
  const num = (k: string): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`bad \`${k}\``);
    return v;
  };
  if (o === null || typeof o !== 'object' || !(WINDOW_TYPES as readonly string[]).includes(o.type as string)) {
    throw new Error('unknown window type');
  }
  const spec: WindowSpec = {
    type: o.type as WindowType,
    size: num('size'),
    advance: num('advance'),
    offset: num('offset'),
    diff: num('diff'),
    gap: num('gap'),
    grace: num('grace') ?? 0,
    partial: o.partial === undefined ? undefined : o.partial !== false,
    time: typeof o.time === 'string' ? o.time : 'ts',
    by: typeof o.by === 'string' ? o.by : null,
  };
  const need = (k: keyof WindowSpec) => {
    if (spec[k] === undefined) throw new Error(`missing \`${k}\``);
  };
  if (spec.type === 'tumbling') { need('size'); spec.advance = spec.size; spec.offset ??= 0; }
  if (spec.type === 'hopping') { need('size'); need('advance'); spec.offset ??= 0; }
  if (spec.type === 'sliding') need('diff');
  if (spec.type === 'session') need('gap');
  if (spec.type === 'count') { need('size'); spec.partial ??= true; }
  return spec;
}
