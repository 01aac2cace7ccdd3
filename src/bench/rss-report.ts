/** Preloaded into a measured child process (node --import): reports its peak memory on exit. */
process.on('exit', () => {
  process.stderr.write(`\nBENCH_MAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
