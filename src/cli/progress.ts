/** A one-line progress bar on stderr, drawn only on a terminal and only for long runs. */
export interface Progress {
  update(done: number, label?: string): void;
  done(): void;
}

const SILENT: Progress = { update() {}, done() {} };

export function progressBar(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return SILENT;
  let last = -1;
  let label = '';
  return {
    update(done, newLabel) {
      if (newLabel) label = newLabel;
      const pct = Math.max(0, Math.min(100, Math.floor(done * 100)));
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stream.write(
        `\r${label.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%`,
      );
    },
    done() {
      if (last >= 0) stream.write('\r\x1b[K');
    },
  };
}
