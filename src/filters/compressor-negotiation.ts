// Any thread (pure). Accept-Encoding negotiation between the compressor filters of one stream, as Envoy's
// (CompressorFilter::chooseEncoding): the acceptable coding with the highest q-value among the registered
// compressors' encodings, `identity` and `*`; on equal q-values the first in the header wins, unless a later one
// belongs to a compressor with choose_first. `*` means the first registered compressor. Linear in the header.

/** One compressor filter that would compress the stream if chosen. */
export interface RegisteredCompressor {
  readonly encoding: string;
  readonly chooseFirst: boolean;
}

export const ENCODING_IDENTITY = 'identity';
/** Nothing acceptable (every q-value 0, or no coding Legate knows). */
export const ENCODING_NOT_VALID = '';
/** `*` chose the compressor whose encoding follows this prefix. */
export const ENCODING_WILDCARD = '*:';

/** The q-value of one Accept-Encoding element's parameters (1 when absent; -1 when malformed: the element is skipped). */
function qValue(params: string): number {
  const parts = params.split(';');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!.trim();
    if (p.length < 2 || (p[0] !== 'q' && p[0] !== 'Q') || p[1] !== '=') continue;
    const v = p.slice(2).trim();
    if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(v)) return -1;
    return Number(v);
  }
  return 1;
}

function registered(registry: readonly RegisteredCompressor[], encoding: string): RegisteredCompressor | null {
  for (let i = 0; i < registry.length; i++) if (registry[i]!.encoding === encoding) return registry[i]!;
  return null;
}

/**
 * The coding chosen for `acceptEncoding` among `registry` (http_filters order): a registered encoding,
 * ENCODING_IDENTITY, ENCODING_WILDCARD + the first registered encoding, or ENCODING_NOT_VALID.
 */
export function chooseEncoding(acceptEncoding: string, registry: readonly RegisteredCompressor[]): string {
  let choice = '';
  let choiceQ = 0;
  let choiceFirst = false;
  const elements = acceptEncoding.split(',');
  for (let i = 0; i < elements.length; i++) {
    const el = elements[i]!;
    const semi = el.indexOf(';');
    const name = (semi < 0 ? el : el.slice(0, semi)).trim().toLowerCase();
    if (name === '') continue;
    const q = semi < 0 ? 1 : qValue(el.slice(semi + 1));
    if (q <= 0) continue;
    const reg = name === ENCODING_IDENTITY || name === '*' ? null : registered(registry, name);
    if (reg === null && name !== ENCODING_IDENTITY && name !== '*') continue;
    const first = reg !== null && reg.chooseFirst;
    if (q > choiceQ || (q === choiceQ && first && !choiceFirst)) {
      choice = name;
      choiceQ = q;
      choiceFirst = first;
    }
  }
  if (choiceQ === 0) return ENCODING_NOT_VALID;
  if (choice === '*') return registry.length === 0 ? ENCODING_IDENTITY : ENCODING_WILDCARD + registry[0]!.encoding;
  return choice;
}
