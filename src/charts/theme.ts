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
  /** Overlay lines, in order of use. */
  overlays: string[];
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
  overlays: ['#f7a600', '#7e57c2', '#29b6f6', '#ec407a', '#9ccc65'],
  longEntry: '#00e676',
  shortEntry: '#ff9100',
  exit: '#b0bec5',
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
  overlays: ['#e65100', '#5e35b1', '#0288d1', '#c2185b', '#558b2f'],
  longEntry: '#00a152',
  shortEntry: '#e65100',
  exit: '#546e7a',
  stopExit: '#d50000',
  targetExit: '#c79100',
  entryLine: '#1e88e5',
  stopLine: '#d50000',
  targetLine: '#00a152',
};

export function palette(theme: Theme): Palette {
  return theme === 'light' ? LIGHT : DARK;
}
