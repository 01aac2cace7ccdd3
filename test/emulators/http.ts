/** Small HTTP helpers shared by the emulators: bodies, multipart form data, and change waiting. */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';

export function readBody(req: IncomingMessage, limit = 20 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface FilePart {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface Multipart {
  fields: Record<string, string>;
  files: FilePart[];
}

/** Parse multipart/form-data (RFC 7578) from a whole body. */
export function parseMultipart(body: Buffer, contentType: string): Multipart {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new Error('multipart body without a boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const out: Multipart = { fields: {}, files: [] };
  let pos = body.indexOf(boundary);
  if (pos < 0) throw new Error('multipart boundary not found');
  for (;;) {
    pos += boundary.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    pos += 2; // CRLF after the boundary
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new Error('multipart part without headers');
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(boundary, headerEnd + 4);
    if (next < 0) throw new Error('multipart part not terminated');
    const data = body.subarray(headerEnd + 4, next - 2); // CRLF before the boundary
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const field = /[;\s:]name="([^"]*)"/i.exec(disposition)?.[1] ?? '';
    // Quoted as RFC 7578 says, or bare as some clients (grammY) send it.
    const fm = /[;\s]filename=(?:"([^"]*)"|([^;\r\n]*))/i.exec(disposition);
    const filename = fm ? (fm[1] ?? fm[2] ?? '') : undefined;
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? 'application/octet-stream';
    if (filename !== undefined)
      out.files.push({ field, filename, contentType: type, data: Buffer.from(data) });
    else out.fields[field] = data.toString('utf8');
    pos = next;
  }
  return out;
}

/** Something that changes, and lets a test wait until a condition over it holds. */
export class Observable extends EventEmitter {
  protected changed(): void {
    this.emit('change');
  }

  /** Resolve with the predicate's first truthy value; reject after `timeoutMs` with `what`. */
  waitFor<T>(
    predicate: () => T | undefined | false | null,
    what = 'condition',
    timeoutMs = 10_000,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = predicate();
        if (v) {
          cleanup();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }
}

/** A token bucket like the platforms' limits: `burst` at once, then `perSecond`. */
export class Limit {
  private tokens: number;
  private last = Date.now();
  constructor(
    readonly burst: number,
    readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  /** Tokens left now. */
  available(): number {
    return Math.min(this.burst, this.tokens + ((Date.now() - this.last) / 1000) * this.perSecond);
  }

  /** Take one; 0 when allowed, else seconds until one is free. */
  take(): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.perSecond;
  }
}
