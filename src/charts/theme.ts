/** Colours for the dark and light themes: readable on a phone, up/down in the usual green/red. */
import type { Theme } from './types.js';

export interface Palette {
  background: string;
  text: string;
  muted: string;
  grid: string;
  up: string;
  down: string;
  price: string;
  equity: string;
  benchmark: string;
  drawdown: string;
  drawdownFill: string;
  volumeUp: string;
  volumeDown: string;
  /**
   * Colours for indicator series, in order of use; each differs from every fixed colour above and
   * below, and `SeriesColours` hands each series of a chart its own.
   */
  series: string[];
  longEntry: string;
  shortEntry: string;
  exit: string;
  stopExit: string;
  targetExit: string;
  entryLine: string;
  stopLine: string;
  targetLine: string;
}

const DARK: Palette = {
  background: '#131722',
  text: '#d1d4dc',
  muted: '#8a8f9c',
  grid: 'rgba(120, 123, 134, 0.18)',
  up: '#26a69a',
  down: '#ef5350',
  price: '#d1d4dc',
  equity: '#42a5f5',
  benchmark: '#9e9e9e',
  drawdown: '#ef5350',
  drawdownFill: 'rgba(239, 83, 80, 0.35)',
  volumeUp: 'rgba(38, 166, 154, 0.5)',
  volumeDown: 'rgba(239, 83, 80, 0.5)',
  series: [
    '#f7a600',
    '#ba68c8',
    '#4dd0e1',
    '#f06292',
    '#aed581',
    '#7986cb',
    '#ff8a65',
    '#bcaaa4',
    '#fff176',
    '#90caf9',
    '#80cbc4',
    '#e0e0e0',
  ],
  longEntry: '#00e676',
  shortEntry: '#ff9100',
  exit: '#40c4ff',
  stopExit: '#ff1744',
  targetExit: '#ffd600',
  entryLine: '#42a5f5',
  stopLine: '#ff1744',
  targetLine: '#00e676',
};

const LIGHT: Palette = {
  background: '#ffffff',
  text: '#131722',
  muted: '#5d606b',
  grid: 'rgba(42, 46, 57, 0.10)',
  up: '#089981',
  down: '#f23645',
  price: '#131722',
  equity: '#1e88e5',
  benchmark: '#787b86',
  drawdown: '#f23645',
  drawdownFill: 'rgba(242, 54, 69, 0.25)',
  volumeUp: 'rgba(8, 153, 129, 0.45)',
  volumeDown: 'rgba(242, 54, 69, 0.45)',
  series: [
    '#f9a825',
    '#8e24aa',
    '#1565c0',
    '#c2185b',
    '#558b2f',
    '#3949ab',
    '#6d4c41',
    '#9e9d24',
    '#5e35b1',
    '#f4511e',
    '#0277bd',
    '#ad1457',
  ],
  longEntry: '#00a152',
  shortEntry: '#e65100',
  exit: '#0288d1',
  stopExit: '#d50000',
  targetExit: '#c79100',
  entryLine: '#1e88e5',
  stopLine: '#d50000',
  targetLine: '#00a152',
};

export function palette(theme: Theme): Palette {
  return theme === 'light' ? LIGHT : DARK;
}

/**
 * Hands out the palette's series colours in order, one per series, so no two series of one chart
 * share a colour; with more series than colours it starts over (charts draw far fewer).
 */
export class SeriesColours {
  private used = 0;
  constructor(private readonly p: Palette) {}

  next(): string {
    const colour = this.p.series[this.used % this.p.series.length]!;
    this.used++;
    return colour;
  }
}
