/**
 * Seeded pseudo-random numbers for the load generator.
 *
 * Output must be byte-identical on Node (V8), Bun (JavaScriptCore) and Deno for the same seed, so everything here is
 * built from operations the language pins down exactly: 32-bit integer math (`Math.imul`, shifts) and IEEE-754
 * `+ - * /` and `Math.sqrt`, which are correctly rounded everywhere. `Math.log`, `Math.exp`, `Math.pow` and the
 * trigonometric functions are only "implementation-approximated" by the spec and do differ in the last bit between
 * engines, so `detLog`/`detExp`/`detPow` below replace them with series evaluated in basic arithmetic.
 */

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128-bit state, passes PractRand, very cheap in JS. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Second normal deviate of the polar method, kept for the next call. */
  private spare = NaN;

  constructor(seed: number | string = 1) {
    const [lo, hi] = seedWords(seed);
    // splitmix32 spreads a low-entropy seed (1, 2, 3...) over the whole state.
    let s = lo;
    const sm = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) | 0;
    };
    this.a = sm();
    this.b = sm();
    this.c = sm() ^ hi;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** An independent stream for one purpose (disorder jitter, uuids), so adding a flag does not shift other fields. */
  static derive(seed: number | string, label: string): Prng {
    return new Prng(`${String(seed).trim()}/${label}`);
  }

  /** Next unsigned 32-bit integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }

  /** Standard normal deviate (Marsaglia's polar method). */
  gaussian(): number {
    const sp = this.spare;
    if (sp === sp) {
      this.spare = NaN;
      return sp;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.float() - 1;
      v = 2 * this.float() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * detLog(s)) / s);
    this.spare = v * m;
    return u * m;
  }

  /** Log-normal deviate with the given median and shape (sigma of the underlying normal). */
  lognormal(median: number, sigma: number): number {
    return median * detExp(sigma * this.gaussian());
  }
}

/** FNV-1a over UTF-16 code units: strings ("run-42") become seeds too. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function seedWords(seed: number | string): [number, number] {
  if (typeof seed === 'string') {
    if (/^-?\d+$/.test(seed.trim())) seed = Number(seed.trim());
    else return [hashString(seed), hashString(seed + '\u0000')];
  }
  if (!Number.isFinite(seed)) seed = 0;
  const n = Math.trunc(seed);
  return [n >>> 0, Math.floor(n / 4294967296) >>> 0];
}

// --- deterministic elementary functions -------------------------------------------------------------------------

const LN2 = 0.6931471805599453;
// ln 2 split (Cody-Waite, as in fdlibm): k * LN2_HI is exact for |k| < 2^20, so range reduction loses nothing.
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const SQRT2 = 1.4142135623730951;
/** 2^k for every k with a normal result, built by exact doubling/halving (no pow(), whose last bit may vary). */
const POW2 = (() => {
  const t = new Float64Array(2046);
  t[1022] = 1;
  for (let k = 1; k <= 1023; k++) t[1022 + k] = t[1021 + k] * 2;
  for (let k = 1; k <= 1022; k++) t[1022 - k] = t[1023 - k] * 0.5;
  return t;
})();

/** 2^k for integer k in -1022..1023. */
function pow2(k: number): number {
  if (k > 1023) return Infinity;
  if (k < -1022) return 0;
  return POW2[k + 1022];
}

/** Natural logarithm for x > 0, to ~1e-15 relative, identically on every engine. */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return Infinity;
  let e = 0;
  while (x >= 2) {
    x *= 0.5;
    e++;
  }
  while (x < 1) {
    x *= 2;
    e--;
  }
  if (x > SQRT2) {
    x *= 0.5;
    e++;
  }
  // ln(x) = 2 atanh(f), f = (x-1)/(x+1), |f| <= 0.172: the odd series converges fast.
  const f = (x - 1) / (x + 1);
  const f2 = f * f;
  let term = f;
  let sum = f;
  for (let k = 3; k <= 29; k += 2) {
    term *= f2;
    sum += term / k;
  }
  return e * LN2_HI + (e * LN2_LO + 2 * sum);
}

/** e^x, to ~1e-15 relative, identically on every engine. */
export function detExp(x: number): number {
  if (x !== x) return NaN;
  if (x > 709.7) return Infinity;
  if (x < -745) return 0;
  const k = Math.round(x / LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  // Taylor series of e^r for |r| <= 0.35, Horner form; the first omitted term is below 1e-17.
  let p = 1;
  for (let n = 14; n >= 1; n--) p = 1 + (p * r) / n;
  if (k < -1022) return p * pow2(k + 54) * pow2(-54);
  return p * pow2(k);
}

/** b^e for b > 0. */
export function detPow(b: number, e: number): number {
  return detExp(e * detLog(b));
}

// --- discrete distributions ---------------------------------------------------------------------------------------

/**
 * Zipf over ranks 0..n-1 (rank 0 most frequent), P(k) ∝ 1/(k+1)^s. Precomputed cumulative weights and a binary
 * search: exact, O(log n) per draw, 8 bytes per key. Tables are shared between generators with the same (n, s).
 */
export class Zipf {
  static readonly MAX_KEYS = 10_000_000;
  private static cache = new Map<string, Float64Array>();
  readonly n: number;
  readonly s: number;
  private readonly cdf: Float64Array;
  private readonly total: number;

  constructor(n: number, s: number) {
    if (!Number.isInteger(n) || n < 1 || n > Zipf.MAX_KEYS) throw new RangeError(`zipf key count must be 1..${Zipf.MAX_KEYS}`);
    if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError('zipf exponent must be >= 0');
    this.n = n;
    this.s = s;
    const key = `${n}:${s}`;
    let cdf = Zipf.cache.get(key);
    if (!cdf) {
      cdf = new Float64Array(n);
      let acc = 0;
      for (let k = 0; k < n; k++) {
        acc += s === 0 ? 1 : s === 1 ? 1 / (k + 1) : detExp(-s * detLog(k + 1));
        cdf[k] = acc;
      }
      Zipf.cache.set(key, cdf);
    }
    this.cdf = cdf;
    this.total = cdf[n - 1];
  }

  sample(rng: Prng): number {
    const u = rng.float() * this.total;
    const cdf = this.cdf;
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Draws from a fixed list with integer weights. */
export class Weighted<T> {
  private readonly items: T[];
  private readonly cum: number[];
  private readonly total: number;

  constructor(entries: ReadonlyArray<readonly [T, number]>) {
    this.items = entries.map((e) => e[0]);
    let acc = 0;
    this.cum = entries.map((e) => (acc += e[1]));
    this.total = acc;
  }

  sample(rng: Prng): T {
    const u = rng.float() * this.total;
    const cum = this.cum;
    let i = 0;
    while (cum[i] <= u) i++;
    return this.items[i];
  }
}

/** RFC 4122 version-4-shaped UUID from the generator (not cryptographically random, by design: it is seeded). */
export function uuidV4(rng: Prng): string {
  const a = rng.next();
  const b = (rng.next() & 0xffff0fff) | 0x00004000; // version nibble 4
  const c = ((rng.next() & 0x3fffffff) | 0x80000000) >>> 0; // variant 10xx
  const d = rng.next();
  const h = (x: number): string => (x >>> 0).toString(16).padStart(8, '0');
  const hb = h(b);
  const hc = h(c);
  return `${h(a)}-${hb.slice(0, 4)}-${hb.slice(4)}-${hc.slice(0, 4)}-${hc.slice(4)}${h(d)}`;
}
