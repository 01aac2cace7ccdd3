// The ES module build of chartjs-chart-financial, imported by path (its "main" is a UMD build).
declare module 'chartjs-chart-financial/dist/chartjs-chart-financial.esm.js' {
  export * from 'chartjs-chart-financial';
}
