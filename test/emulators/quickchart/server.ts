/**
 * A QuickChart stand-in: `POST /chart` as QuickChart serves it. The body is
 * `{chart, width, height, backgroundColor, format, version, devicePixelRatio, key?}` where `chart`
 * is a Chart.js config as JSON or as JavaScript source (quickchart-js sends source so functions
 * survive); like QuickChart it evaluates the source, in an isolated VM context. Every request is
 * recorded with its evaluated config. The answer is a PNG of the requested size in the requested
 * background, with a mark drawn on it so it is not blank. Errors answer as QuickChart does: a status
 * with an `x-quickchart-error` header. Faults can be injected.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContext, runInContext } from 'node:vm';
import { createCanvas } from '@napi-rs/canvas';

export interface ChartRequest {
  width: number;
  height: number;
  backgroundColor?: string;
  format?: string;
  version?: string;
  devicePixelRatio?: number;
  key?: string;
  /** The chart config, evaluated: functions are real functions again. */
  config: Record<string, unknown>;
}

export class QuickChartStub {
  readonly requests: ChartRequest[] = [];
  private server: Server | undefined;
  private failures = 0;

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('stub not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, 500, (err as Error).message));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next `times` requests answer 500. */
  failNext(times = 1): void {
    this.failures = times;
  }

  private fail(res: ServerResponse, status: number, message: string): void {
    res.writeHead(status, { 'content-type': 'text/plain', 'x-quickchart-error': message }).end(message);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/chart')
      return this.fail(res, 404, `no route ${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.failures > 0) {
      this.failures--;
      return this.fail(res, 500, 'Internal error (injected)');
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return this.fail(res, 400, 'Invalid JSON body');
    }
    const width = Number(body.width ?? 500);
    const height = Number(body.height ?? 300);
    if (!(width > 0 && width <= 4096 && height > 0 && height <= 4096))
      return this.fail(res, 400, 'Invalid width or height');
    let config: Record<string, unknown>;
    try {
      config =
        typeof body.chart === 'string'
          ? (runInContext(`(${body.chart})`, createContext({}), { timeout: 1000 }) as Record<string, unknown>)
          : (body.chart as Record<string, unknown>);
      if (!config || typeof config !== 'object' || !('data' in config))
        throw new Error('chart config has no data');
    } catch (err) {
      return this.fail(res, 400, `Invalid chart config: ${(err as Error).message}`);
    }
    this.requests.push({
      width,
      height,
      config,
      ...(typeof body.backgroundColor === 'string' ? { backgroundColor: body.backgroundColor } : {}),
      ...(typeof body.format === 'string' ? { format: body.format } : {}),
      ...(typeof body.version === 'string' ? { version: body.version } : {}),
      ...(typeof body.devicePixelRatio === 'number' ? { devicePixelRatio: body.devicePixelRatio } : {}),
      ...(typeof body.key === 'string' ? { key: body.key } : {}),
    });
    const canvas = createCanvas(width, height);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = typeof body.backgroundColor === 'string' ? body.backgroundColor : '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.strokeStyle = '#ff00ff';
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(0, height);
    ctx.lineTo(width, 0);
    ctx.stroke();
    res.writeHead(200, { 'content-type': 'image/png' }).end(await canvas.encode('png'));
  }
}
