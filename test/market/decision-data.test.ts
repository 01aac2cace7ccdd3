/**
 * Old samples are never taken for now: with the exchange unreachable (MARKET_DATA=auto), candles for
 * a decision come from a bundled sample only when it reaches the time asked for (a replay's past),
 * while a backtest or a chart still gets the sample, labelled.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { MarketData } from '../../src/market/provider.js';

const NOW = Date.UTC(2026, 10, 30, 4);
const DAY = 86_400_000;

describe('candles for a decision while the exchange is unreachable', () => {
  const config = loadConfig({
    // Nothing listens on the discard port: every request is refused at once.
    env: { EXCHANGE_API_URL: 'http://127.0.0.1:9', DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-decision-')) },
    dotenv: false,
  });
  const market = new MarketData(
    config,
    createLogger({ level: 'silent', format: 'json' }),
    undefined,
    () => NOW,
  );

  it('refuses the bundled samples for now, in one line', async () => {
    await expect(
      market.candles({ symbol: 'BTC/USDT', timeframe: '4h', period: 10 * DAY, decision: true }),
    ).rejects.toThrow(/^no market data yet: binance unreachable \(.+\)$/);
  });

  it('takes a sample that reaches the time asked for (a replay of March 2023), up to that time only', async () => {
    const until = Date.UTC(2023, 2, 5, 10);
    const a = await market.candles({
      symbol: 'BTC/USDT',
      timeframe: '4h',
      period: 10 * DAY,
      until,
      decision: true,
    });
    expect(a.source).toBe('bundled sample binance BTC/USDT 2h');
    // The last 4h candle closed by 10:00 opened at 04:00.
    expect(a.candles.time[a.candles.length - 1]).toBe(Date.UTC(2023, 2, 5, 4));
  });

  it('still answers a chart or a backtest from the samples, saying so', async () => {
    const a = await market.candles({ symbol: 'BTC/USDT', timeframe: '4h', period: 10 * DAY });
    expect(a.note).toMatch(/^binance unreachable: bundled sample, ending 2025-08-2\d/);
  });
});
