// The ES module build of chartjs-plugin-datalabels, imported by path: its "main" is a UMD build that
// would load a second, CommonJS copy of Chart.js, whose element classes the plugin then tests against.
declare module 'chartjs-plugin-datalabels/dist/chartjs-plugin-datalabels.esm.js' {
  import plugin from 'chartjs-plugin-datalabels';
  export default plugin;
}
