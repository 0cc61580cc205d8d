/**
 * A token bucket per API key (`serve --rate <n/s> --burst <n>`): a request takes one token; tokens come back at
 * `rate` per second up to `burst`. Refills are computed from the time of the request, so an idle key costs nothing.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(readonly rate: number, readonly burst: number, now: number) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }

  /** Takes a token: 0 when granted, else the seconds until one is there (for Retry-After). */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.rate;
  }

  /** Whole tokens left (the RateLimit header's remaining). */
  remaining(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }
}

/** The buckets of every key, made on a key's first request. */
export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(readonly rate: number, readonly burst: number) {}

  bucket(key: string, now: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.rate, this.burst, now)));
    return b;
  }
}
