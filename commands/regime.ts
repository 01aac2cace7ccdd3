import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, italic, reply } from '../src/chat/reply.js';
import { localStamp } from '../src/engine/clock.js';
import { formatDuration } from '../src/backtest/summary.js';

export default defineCommand({
  name: 'regime',
  summary: 'Show the market regime, its inputs and recent changes',
  role: 'viewer',
  slow: true,
  args: z.object({}),
  examples: ['regime'],
  async run(_args, ctx) {
    const { config } = ctx.services;
    const tz = config.timezone;
    const r = ctx.services.watch.regime();
    const on = `on ${config.regime.symbol} ${config.regime.timeframe}`;
    const out = reply();
    if (r.state === 'unknown') {
      out.line(bold('Regime unknown'), `, ${on}: ${r.why}`);
      if (r.effect) out.line(r.effect);
    } else {
      const x = r.reading;
      out
        .line(bold(`Regime ${r.state}`), ` since ${localStamp(r.since, tz)} ${tz}, ${on}`)
        .line(
          `Now the inputs say ${x.state} (confidence ${Math.round(x.confidence * 100)}%, price score ${x.score >= 0 ? '+' : ''}${x.score.toFixed(2)})` +
            (x.state !== r.state ? `; held ${formatDuration(r.heldFor)} more before it may change` : ''),
        );
      for (const reason of x.reasons) out.line(`• ${reason}`);
      for (const f of x.failures) out.line(italic(`${f.provider} unavailable: ${f.error}`));
    }
    if (r.providers === 0)
      out.line(
        italic(
          'No outside inputs configured (REGIME_DXY_URL, REGIME_DOMINANCE_URL, REGIME_NEWS_URL): price alone.',
        ),
      );
    out.line(
      config.regime.gate === 'on'
        ? 'Runs obey it: no longs in RISK_OFF, no shorts in RISK_ON, nothing in CHOP; size x multiplier x signal confidence.'
        : 'REGIME_GATE=off: runs ignore it.',
    );
    const recent = r.history.slice(-5).reverse();
    if (recent.length > 0)
      out.table(
        recent.map((c) => [
          localStamp(c.at, tz),
          `${c.from ?? '-'} -> ${c.to}`,
          `${Math.round(c.confidence * 100)}%`,
        ]),
        { header: ['When', 'Change', 'Confidence'] },
      );
    return out;
  },
});
