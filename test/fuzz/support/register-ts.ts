// Fuzz process, main thread, before anything else (`node --import`): registers ts-hooks.ts ahead of jazzer's own
// loader hook (see there).

import { register } from 'node:module';

register('./ts-hooks.ts', import.meta.url);
