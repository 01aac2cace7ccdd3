import QuickChart from 'quickchart-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuickChartClass } from '../../src/charts/render/quickchart.js';
import { pngSize, pixelStats } from '../helpers/png.js';
import { QuickChartStub } from './quickchart/server.js';

describe('QuickChart stub (through quickchart-js)', () => {
  const stub = new QuickChartStub();
  beforeAll(() => stub.start());
  afterAll(() => stub.stop());

  function client() {
    const url = new URL(stub.url);
    const qc = new (QuickChart as unknown as QuickChartClass)();
    return qc.setHost(url.host).setScheme('http');
  }

  it('records the posted config, functions included, and answers a PNG of the requested size', async () => {
    const qc = client()
      .setConfig({
        type: 'line',
        data: { datasets: [{ label: 'a', data: [1, 2] }] },
        options: { scales: { y: { ticks: { callback: (v: number) => `${v}%` } } } },
      })
      .setWidth(640)
      .setHeight(200)
      .setBackgroundColor('#123456')
      .setVersion('4');
    const png = await qc.toBinary();
    expect(pngSize(png)).toEqual({ width: 640, height: 200 });
    expect((await pixelStats(png, '#123456')).share).toBeGreaterThan(0);
    const req = stub.requests.at(-1)!;
    expect(req).toMatchObject({ width: 640, height: 200, backgroundColor: '#123456', version: '4' });
    const callback = (req.config.options as { scales: { y: { ticks: { callback: (v: number) => string } } } })
      .scales.y.ticks.callback;
    expect(callback(5)).toBe('5%');
  });

  it('answers a bad config and injected failures as QuickChart does, with x-quickchart-error', async () => {
    const bad = await fetch(`${stub.url}/chart`, {
      method: 'POST',
      body: JSON.stringify({ chart: '{ not: js', width: 10, height: 10 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-quickchart-error')).toMatch(/^Invalid chart config/);
    stub.failNext();
    await expect(client().setConfig({ data: {} }).toBinary()).rejects.toThrow(/status code 500/);
  });
});
