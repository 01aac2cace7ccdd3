import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadCandles } from '../../src/market/download.js';
import { getExchange } from '../../src/market/exchange.js';
import {
  cacheRules,
  describeRules,
  fitAmount,
  floorToStep,
  knownRules,
  type MarketRules,
  roundToStep,
  rulesOfMarket,
} from '../../src/market/rules.js';
import { candlesFromCsv, ExchangeEmulator } from '../emulators/exchange/server.js';
import { SAMPLES } from '../helpers/fixtures.js';

const M = 60_000;
const rules: MarketRules = {
  amountStep: 0.001,
  priceStep: 0.5,
  minAmount: 0.01,
  minNotional: 10,
  source: 'test',
};

describe('exchange rules: rounding and minimums', () => {
  it('floors amounts to the step without float noise, and rounds prices to the tick', () => {
    expect(floorToStep(0.3, 0.1)).toBe(0.3); // 0.3 / 0.1 = 2.9999999999999996
    expect(floorToStep(1.23456789, 0.00001)).toBe(1.23456);
    expect(floorToStep(7, 0)).toBe(7);
    expect(floorToStep(0.00000999, 0.00001)).toBe(0);
    expect(roundToStep(98.77, 0.05)).toBe(98.75);
    expect(roundToStep(98.78, 0.05)).toBe(98.8);
    expect(roundToStep(12345.678, 0.01)).toBe(12345.68);
    expect(roundToStep(Number.NaN, 0.01)).toBeNaN();
  });

  it('fits an amount, or says in one line which minimum it misses', () => {
    expect(fitAmount(0.123456, 100, rules)).toBe(0.123);
    expect(fitAmount(0.009, 10_000, rules)).toBe("below the exchange's minimum amount: 0.009 < 0.01 (test)");
    // 0.05 x 100 = 5 of value, under 10.
    expect(fitAmount(0.05, 100, rules)).toBe("below the exchange's minimum order value: 5 < 10 (test)");
    expect(fitAmount(0.05, 100, undefined)).toBe(0.05);
  });

  it('describes the rules with their units, or says none are known', () => {
    expect(describeRules('ETH/USDT', rules)).toBe(
      '0.001 ETH steps, min 0.01 ETH, min 10 USDT, tick 0.5 (test)',
    );
    // A minimum amount of one step says nothing more.
    expect(describeRules('ETH/USDT', { ...rules, minAmount: 0.001 })).toBe(
      '0.001 ETH steps, min 10 USDT, tick 0.5 (test)',
    );
    expect(describeRules('ETH/USDT', undefined)).toBe('none known for ETH/USDT: fills are not rounded');
    expect(describeRules('ETH/USDT', null)).toBe('off (--exchange-rules off): fills are not rounded');
  });
});

describe('exchange rules: from ccxt, cached, bundled', () => {
  let emu: ExchangeEmulator;
  const candles = candlesFromCsv(readFileSync(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`, 'utf8')).slice(
    0,
    600,
  );
  beforeAll(async () => {
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles, intervalMs: M }]).start();
    emu.now = () => candles[0]!.time + 600 * M;
  });
  afterAll(() => emu.stop());

  it("reads a market's rules from ccxt (Binance: tick sizes)", async () => {
    const ex = await getExchange('binance', emu.url);
    await ex.loadMarkets();
    expect(rulesOfMarket(ex.markets!['BTC/USDT']!, ex.precisionMode!, 'binance markets')).toEqual({
      amountStep: 0.00001,
      priceStep: 0.01,
      minAmount: 0.00001,
      minNotional: 5,
      source: 'binance markets',
    });
  });

  it('turns decimal-places precision into steps', () => {
    const market = {
      precision: { amount: 3, price: 2 },
      limits: { amount: { min: 0.001 }, cost: { min: 1 } },
    } as unknown as Parameters<typeof rulesOfMarket>[0];
    expect(rulesOfMarket(market, 2, 'x')).toMatchObject({ amountStep: 0.001, priceStep: 0.01 });
    // Significant digits cannot be a step: amounts are left as they are.
    expect(rulesOfMarket(market, 3, 'x')).toMatchObject({ amountStep: 0, priceStep: 0 });
  });

  it('caches the rules with downloaded candles, and knows them offline before the bundled ones', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bosun-rules-'));
    const samplesDir = mkdtempSync(join(tmpdir(), 'bosun-samples-'));
    writeFileSync(
      join(samplesDir, 'markets.json'),
      JSON.stringify({
        binance: { 'BTC/USDT': { amountStep: 0.1, priceStep: 1, minAmount: 0.1, minNotional: 1 } },
      }),
    );
    expect(knownRules('binance', 'BTC/USDT', { dataDir, samplesDir })).toEqual({
      amountStep: 0.1,
      priceStep: 1,
      minAmount: 0.1,
      minNotional: 1,
      source: 'binance, bundled',
    });
    const t0 = candles[0]!.time;
    await downloadCandles(
      { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1m', from: t0, to: t0 + 60 * M },
      { dataDir, apiUrl: emu.url, retries: 1, backoffMs: 5, now: emu.now() },
    );
    const known = knownRules('binance', 'BTC/USDT', { dataDir, samplesDir })!;
    expect(known).toMatchObject({ amountStep: 0.00001, priceStep: 0.01, minAmount: 0.00001, minNotional: 5 });
    expect(known.source).toMatch(/^binance, \d{4}-\d\d-\d\d$/);
    expect(knownRules('binance', 'ETH/USDT', { dataDir, samplesDir })).toBeUndefined();
  });

  it('merges new markets into the cache file, and takes a damaged file for none', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bosun-rules-'));
    const samplesDir = mkdtempSync(join(tmpdir(), 'bosun-samples-'));
    cacheRules(dataDir, 'kraken', { 'BTC/USD': rules });
    cacheRules(dataDir, 'kraken', { 'ETH/USD': { ...rules, minNotional: 20 } });
    expect(knownRules('kraken', 'BTC/USD', { dataDir, samplesDir })?.minNotional).toBe(10);
    expect(knownRules('kraken', 'ETH/USD', { dataDir, samplesDir })?.minNotional).toBe(20);
    writeFileSync(join(dataDir, 'cache', 'markets', 'kraken.json'), '{"exchange": "kraken", "markets": 7');
    expect(knownRules('kraken', 'BTC/USD', { dataDir, samplesDir })).toBeUndefined();
  });

  it('bundles the rules of the Binance BTC/USDT samples', () => {
    const samplesDir = mkdtempSync(join(tmpdir(), 'bosun-samples-'));
    mkdirSync(samplesDir, { recursive: true });
    cpSync(`${SAMPLES}markets.json`, join(samplesDir, 'markets.json'));
    expect(knownRules('binance', 'BTC/USDT', { samplesDir })).toMatchObject({
      amountStep: 0.00001,
      priceStep: 0.01,
      minAmount: 0.00001,
      minNotional: 5,
    });
  });
});
