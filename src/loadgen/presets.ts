/**
 * Built-in record shapes for `gen --preset`. Each builds its line with a template literal (no JSON.stringify per
 * record) and the matching value object with the same field order, so `JSON.stringify(value) === line` holds —
 * piped and fused runs see the same data. Strings drawn from fixed lists are quoted once, up front.
 */
import { Prng, Weighted, Zipf } from './prng.js';
import type { RecordMaker } from './maker.js';
import { UsageError } from '../pipeline/errors.js';

export const PRESETS = {
  clicks: ['ts', 'user', 'page', 'country', 'latency_ms', 'bytes', 'ok'],
  orders: ['ts', 'order_id', 'customer', 'items', 'amount', 'currency', 'status'],
  iot: ['ts', 'device', 'sensor', 'temp', 'humidity', 'battery'],
} as const;

export type PresetName = keyof typeof PRESETS;

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

export function createPreset(name: string, rng: Prng): RecordMaker {
  switch (name) {
    case 'clicks':
      return new Clicks(rng);
    case 'orders':
      return new Orders(rng);
    case 'iot':
      return new Iot(rng);
    default:
      throw new UsageError(`unknown preset \`${name}\``, `use ${presetNames().join(', ')}, or --template`);
  }
}

const q = (s: string): string => JSON.stringify(s);

// --- clicks -------------------------------------------------------------------------------------------------------

const PAGES = [
  '/', '/home', '/search', '/cart', '/checkout', '/login', '/logout', '/signup', '/account', '/account/orders',
  '/account/settings', '/help', '/about', '/contact', '/blog', '/deals', '/new', '/wishlist',
  '/api/v1/items', '/api/v1/cart', '/api/v1/search', '/category/shoes', '/category/books', '/category/garden',
  '/category/toys', '/category/music', '/category/kitchen', '/category/sports', '/checkout/payment',
  '/checkout/confirm', '/products/1', '/products/2', '/products/3', '/products/4', '/products/5', '/products/6',
  '/products/7', '/products/8', '/products/9', '/products/10', '/products/11', '/products/12', '/products/13',
  '/products/14', '/products/15', '/products/16', '/products/17', '/products/18', '/products/19', '/products/20',
];

const COUNTRIES: ReadonlyArray<readonly [string, number]> = [
  ['US', 30], ['DE', 10], ['GB', 9], ['IN', 9], ['BR', 7], ['FR', 6], ['JP', 6], ['CA', 5], ['NL', 4], ['ES', 4],
  ['IT', 4], ['MX', 3], ['AU', 3], ['PL', 3], ['SE', 2], ['KR', 2], ['CH', 1], ['NG', 1], ['ZA', 1],
];

class Clicks implements RecordMaker {
  private readonly users = new Zipf(10_000, 1.0);
  private readonly pages = new Zipf(PAGES.length, 1.0);
  private readonly countries = new Weighted(COUNTRIES);
  private readonly pageJson = PAGES.map(q);

  constructor(private readonly rng: Prng) {}

  make(seq0: number, ts: ArrayLike<number>, n: number, _now: number, lines: string[], values: unknown[] | null): void {
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const t = ts[i];
      const user = 'u' + this.users.sample(rng);
      const p = this.pages.sample(rng);
      const country = this.countries.sample(rng);
      // Log-normal body around 40 ms, plus ~1.5% slow requests 5-50x longer: a realistic long tail (p99.9 > 1 s).
      let latency = rng.lognormal(40, 0.6);
      if (rng.bool(0.015)) latency *= rng.int(5, 50);
      const latency_ms = Math.max(1, Math.round(latency));
      const bytes = 200 + Math.round(rng.lognormal(3000, 1.0));
      const ok = rng.bool(0.97);
      lines.push(
        `{"ts":${t},"user":"${user}","page":${this.pageJson[p]},"country":"${country}","latency_ms":${latency_ms},"bytes":${bytes},"ok":${ok}}`,
      );
      if (values) values.push({ ts: t, user, page: PAGES[p], country, latency_ms, bytes, ok });
    }
  }
}

// --- orders -------------------------------------------------------------------------------------------------------

const ITEMS: ReadonlyArray<readonly [number, number]> = [[1, 40], [2, 25], [3, 15], [4, 8], [5, 5], [6, 3], [7, 2], [8, 2]];
const CURRENCIES: ReadonlyArray<readonly [string, number]> = [['EUR', 45], ['USD', 35], ['GBP', 12], ['CHF', 4], ['SEK', 2], ['PLN', 2]];
const STATUSES: ReadonlyArray<readonly [string, number]> = [
  ['paid', 80], ['pending', 10], ['failed', 5], ['refunded', 3], ['cancelled', 2],
];

class Orders implements RecordMaker {
  private readonly customers = new Zipf(5_000, 0.9);
  private readonly items = new Weighted(ITEMS);
  private readonly currencies = new Weighted(CURRENCIES);
  private readonly statuses = new Weighted(STATUSES);

  constructor(private readonly rng: Prng) {}

  make(seq0: number, ts: ArrayLike<number>, n: number, _now: number, lines: string[], values: unknown[] | null): void {
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const t = ts[i];
      const order_id = 'o' + (seq0 + i + 1);
      const customer = 'c' + this.customers.sample(rng);
      const items = this.items.sample(rng);
      // Whole cents, divided once: the shortest round-trip form of cents/100 never shows more than 2 decimals.
      const cents = items * Math.max(99, Math.round(rng.lognormal(2500, 0.8)));
      const amount = cents / 100;
      const currency = this.currencies.sample(rng);
      const status = this.statuses.sample(rng);
      lines.push(
        `{"ts":${t},"order_id":"${order_id}","customer":"${customer}","items":${items},"amount":${amount},"currency":"${currency}","status":"${status}"}`,
      );
      if (values) values.push({ ts: t, order_id, customer, items, amount, currency, status });
    }
  }
}

// --- iot ----------------------------------------------------------------------------------------------------------

const DEVICES = 1000;
/** Sensor kind by device (device % 4), with its typical temperature/humidity and their spread. */
const KINDS = [
  { sensor: 'indoor', temp: 21, tempSd: 1.5, hum: 45, humSd: 5 },
  { sensor: 'outdoor', temp: 12, tempSd: 6, hum: 70, humSd: 15 },
  { sensor: 'fridge', temp: 4, tempSd: 1, hum: 85, humSd: 4 },
  { sensor: 'server-room', temp: 27, tempSd: 2, hum: 30, humSd: 4 },
];

class Iot implements RecordMaker {
  private readonly names: string[] = [];
  /** Per-device battery level: drains slowly, recharges at 0 — state, so series look like series. */
  private readonly battery = new Int16Array(DEVICES);
  private readonly offset = new Float64Array(DEVICES);

  constructor(private readonly rng: Prng) {
    for (let d = 0; d < DEVICES; d++) {
      this.names.push('d' + String(d).padStart(4, '0'));
      const h = Math.imul(d + 1, 0x9e3779b1) >>> 0;
      this.battery[d] = 20 + (h % 81);
      this.offset[d] = ((h >>> 8) % 41) / 10 - 2; // each device reads a little high or low, -2.0..+2.0
    }
  }

  make(seq0: number, ts: ArrayLike<number>, n: number, _now: number, lines: string[], values: unknown[] | null): void {
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const t = ts[i];
      const d = rng.int(0, DEVICES - 1);
      const device = this.names[d];
      const k = KINDS[d & 3];
      const sensor = k.sensor;
      // `+ 0` turns -0 into 0, which is what JSON.stringify prints anyway.
      const temp = Math.round((k.temp + this.offset[d] + k.tempSd * rng.gaussian()) * 10) / 10 + 0;
      const humidity = Math.min(100, Math.max(0, Math.round((k.hum + k.humSd * rng.gaussian()) * 10) / 10)) + 0;
      if (rng.bool(0.01)) this.battery[d] = this.battery[d] === 0 ? 100 : this.battery[d] - 1;
      const battery = this.battery[d];
      lines.push(
        `{"ts":${t},"device":"${device}","sensor":"${sensor}","temp":${temp},"humidity":${humidity},"battery":${battery}}`,
      );
      if (values) values.push({ ts: t, device, sensor, temp, humidity, battery });
    }
  }
}
