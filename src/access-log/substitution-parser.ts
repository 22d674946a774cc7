// Any thread (pure). Parses an Envoy format string ("[%START_TIME%] %REQ(:METHOD)%...") once into a flat array of
// literal and operator segments. Grammar as Envoy's: "%%" is a literal '%'; otherwise '%' starts
// %COMMAND(SUBCOMMAND):LENGTH% where COMMAND is [A-Z0-9_]+, SUBCOMMAND has no ')', and LENGTH is decimal.

import { compileOperator, literalSegment, type Segment } from './command-operators.ts';
import { FormatError } from './format-error.ts';

const COMMAND = /%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::([0-9]+))?%/y;

export function parseFormat(format: string): Segment[] {
  const segments: Segment[] = [];
  let literal = '';
  let pos = 0;
  while (pos < format.length) {
    const pct = format.indexOf('%', pos);
    if (pct < 0) {
      literal += format.slice(pos);
      break;
    }
    literal += format.slice(pos, pct);
    if (format.charCodeAt(pct + 1) === 37 /* % */) {
      literal += '%';
      pos = pct + 2;
      continue;
    }
    COMMAND.lastIndex = pct;
    const m = COMMAND.exec(format);
    if (m === null) {
      throw new FormatError('bad_syntax', '', `no valid command operator at position ${pct} of '${format}' (a literal '%' is written '%%')`);
    }
    if (literal !== '') {
      segments.push(literalSegment(literal));
      literal = '';
    }
    const maxLength = m[3] === undefined ? -1 : Number(m[3]);
    if (!Number.isSafeInteger(maxLength)) throw new FormatError('bad_syntax', m[1]!, `length ${m[3]} of %${m[1]}% is too large`);
    segments.push(compileOperator(m[1]!, m[2], maxLength));
    pos = pct + m[0].length;
  }
  if (literal !== '') segments.push(literalSegment(literal));
  return segments;
}
