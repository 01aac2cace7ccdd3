/** One line of the bench table: a figure, the baseline measured in the same run, and its target. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline (or baseline / value for throughputs, so that > 1 means bosun is slower). */
  ratio?: number;
  target?: string;
  pass?: boolean;
}
