/**
 * Reducing long series for drawing. A 1280-pixel chart cannot show 50,000 points; drawing them all
 * is slow and looks no different from drawing, per pixel column, the first, lowest, highest and last
 * point (M4 aggregation). Extremes are always kept, so spikes and drawdowns look exactly right.
 * Indices are chosen once for all series of a chart so they stay aligned in time.
 */

/** Indices to keep: per bucket, the first, min, max and last index of every series. Sorted, unique. */
export function reduceIndices(
  series: ReadonlyArray<ArrayLike<number>>,
  length: number,
  buckets: number,
): Int32Array {
  if (length <= buckets * 4) return Int32Array.from({ length }, (_, i) => i);
  const keep = new Uint8Array(length);
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * length) / buckets);
    const end = Math.floor(((b + 1) * length) / buckets);
    if (end <= start) continue;
    keep[start] = 1;
    keep[end - 1] = 1;
    for (const s of series) {
      let minI = -1;
      let maxI = -1;
      for (let i = start; i < end; i++) {
        const v = s[i]!;
        if (Number.isNaN(v)) continue;
        if (minI < 0 || v < s[minI]!) minI = i;
        if (maxI < 0 || v > s[maxI]!) maxI = i;
      }
      if (minI >= 0) keep[minI] = 1;
      if (maxI >= 0) keep[maxI] = 1;
    }
  }
  let count = 0;
  for (let i = 0; i < length; i++) count += keep[i]!;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; i < length; i++) if (keep[i]) out[k++] = i;
  return out;
}

/** {x, y} points of `values` at `indices` (NaN values are skipped, leaving a gap). */
export function pointsAt(
  time: ArrayLike<number>,
  values: ArrayLike<number>,
  indices: ArrayLike<number>,
): Array<{ x: number; y: number | null }> {
  const out: Array<{ x: number; y: number | null }> = new Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    const v = values[i]!;
    out[k] = { x: time[i]!, y: Number.isNaN(v) ? null : v };
  }
  return out;
}
