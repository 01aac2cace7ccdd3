import { tradeCommand } from '../src/chat/manual-args.js';

export default tradeCommand('sell');
