import type { Rec } from '../pipeline/record.js';
import type { Stage } from '../pipeline/stage.js';
import { END_HEADER, END_VALUE } from './hub.js';

/**
 * The gateway's pipeline is `consume <in> --group … + <the --pipeline stages> + produce <out>`, run by the usual
 * runner (at-least-once, metrics, rebalances). A stream's end marker must not meet the user's stages (a filter
 * would read its null value), yet must reach the output after the stream's records: `EndMarkers` takes markers
 * out of each batch before the first stage and puts them back after the last, in the same batch (or at the next
 * tick, when the stages left nothing of that batch to push on).
 */
export class EndMarkers {
  private held: Rec[] = [];

  static isEnd(r: Rec): boolean {
    const hs = r.headers ?? r.stored?.headers(r.si);
    if (!hs) return false;
    for (const h of hs) if (h.key === END_HEADER && h.value !== null && String(h.value) === END_VALUE) return true;
    return false;
  }

  /** The stage before the user's: holds the markers back. */
  before(): Stage {
    return {
      name: 'serve-in',
      reads: 'none',
      keepsValue: true,
      stateless: false,
      process: (batch, out) => {
        for (let i = 0; i < batch.length; i++) {
          const r = batch[i];
          if (r.ctl === undefined && EndMarkers.isEnd(r)) this.held.push(r);
          else out.push(r);
        }
      },
    };
  }

  /** The stage after the user's: lets the markers out behind the records. */
  after(): Stage {
    const release = (out: Rec[]) => {
      if (this.held.length === 0) return;
      for (const r of this.held) out.push(r);
      this.held = [];
    };
    return {
      name: 'serve-out',
      reads: 'none',
      keepsValue: true,
      process: (batch, out) => {
        for (let i = 0; i < batch.length; i++) out.push(batch[i]);
        release(out);
      },
      tick: (_now, out) => release(out),
      end: (out) => release(out),
    };
  }
}
