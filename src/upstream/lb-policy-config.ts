// Any thread (pure; config time). A cluster's load balancing policy: `lb_policy` with its ring_hash_lb_config /
// maglev_lb_config, or the typed-extension form `load_balancing_policy` (envoy.load_balancing_policies.*), both
// mapped onto the same policy names and settings the workers' load balancers take (workers/upstream/load-balancers.ts).

type Obj = Record<string, unknown>;

export interface LbProblem {
  code: 'not_supported' | 'bad_value' | 'missing_field' | 'io';
  path: string;
  message: string;
}

/** The settings of the hashing policies (plain data, crosses to workers with the cluster). */
export interface HashLbSettings {
  /** ring_hash: minimum_ring_size (default 1024) and maximum_ring_size (default 8M). */
  minimumRingSize: number;
  maximumRingSize: number;
  /** maglev: table_size, a prime (default 65537). */
  maglevTableSize: number;
  /** consistent_hashing_lb_config.use_hostname_for_hashing: hosts are hashed by hostname, not address. */
  useHostnameForHashing: boolean;
}

export interface CompiledLbPolicy {
  /** ROUND_ROBIN, RANDOM, LEAST_REQUEST, RING_HASH or MAGLEV. */
  policy: string;
  hash: HashLbSettings;
  /** least_request settings given in a typed LeastRequest (null: from least_request_lb_config or defaults). */
  choiceCount: number | null;
  activeRequestBias: number | null;
}

export const HASH_LB_DEFAULTS: Readonly<HashLbSettings> = Object.freeze({
  minimumRingSize: 1024,
  maximumRingSize: 8 * 1024 * 1024,
  maglevTableSize: 65537,
  useHostnameForHashing: false,
});

/** Envoy's bounds: ring sizes at most 8M (PGV), a Maglev table below 5000011 and prime. */
const MAX_RING_SIZE = 8 * 1024 * 1024;
const MAX_MAGLEV_TABLE = 5000011;

const LB_POLICIES: readonly string[] = ['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST', 'RING_HASH', 'MAGLEV'];

const EXTENSION_TYPES: Readonly<Record<string, string>> = {
  'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin': 'ROUND_ROBIN',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest': 'LEAST_REQUEST',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random': 'RANDOM',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash': 'RING_HASH',
  'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev': 'MAGLEV',
};

/** Fields each typed policy may carry (others: not supported yet). */
const EXTENSION_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  ROUND_ROBIN: new Set(['@type']),
  RANDOM: new Set(['@type']),
  LEAST_REQUEST: new Set(['@type', 'choice_count', 'active_request_bias']),
  RING_HASH: new Set(['@type', 'minimum_ring_size', 'maximum_ring_size', 'hash_function', 'use_hostname_for_hashing', 'consistent_hashing_lb_config']),
  MAGLEV: new Set(['@type', 'table_size', 'consistent_hashing_lb_config']),
};

/** ConsistentHashingLbConfig (cluster common_lb_config or typed policy): hash_balance_factor is not supported yet. */
function consistentHashing(v: unknown, path: string, hash: HashLbSettings, problems: LbProblem[]): void {
  if (!isObj(v)) return;
  unknownFields(v, new Set(['use_hostname_for_hashing']), path, problems);
  if (v['use_hostname_for_hashing'] === true) hash.useHostnameForHashing = true;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Wrapper values arrive plain (or as { value }): a number, or undefined when absent. */
function wrapped(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObj(v)) return v['value'] === undefined ? undefined : Number(v['value']);
  return Number(v);
}

function unknownFields(o: Obj, known: ReadonlySet<string>, path: string, problems: LbProblem[]): void {
  for (const key of Object.keys(o)) {
    if (known.has(key) || o[key] === undefined) continue;
    problems.push({ code: 'not_supported', path: `${path}.${key}`, message: `'${key}' is not supported yet` });
  }
}

function ringHash(o: Obj, path: string, hash: HashLbSettings, problems: LbProblem[]): void {
  const min = wrapped(o['minimum_ring_size']);
  const max = wrapped(o['maximum_ring_size']);
  if (min !== undefined) {
    if (!(Number.isInteger(min) && min >= 1 && min <= MAX_RING_SIZE)) {
      problems.push({ code: 'bad_value', path: `${path}.minimum_ring_size`, message: `minimum_ring_size must be an integer in [1, ${MAX_RING_SIZE}], got ${String(min)}` });
    } else hash.minimumRingSize = min;
  }
  if (max !== undefined) {
    if (!(Number.isInteger(max) && max >= 1 && max <= MAX_RING_SIZE)) {
      problems.push({ code: 'bad_value', path: `${path}.maximum_ring_size`, message: `maximum_ring_size must be an integer in [1, ${MAX_RING_SIZE}], got ${String(max)}` });
    } else hash.maximumRingSize = max;
  }
  if (hash.minimumRingSize > hash.maximumRingSize) {
    problems.push({ code: 'bad_value', path, message: `ring hash: minimum_ring_size (${hash.minimumRingSize}) > maximum_ring_size (${hash.maximumRingSize})` });
  }
  const fn = o['hash_function'];
  if (fn !== undefined && fn !== 'XX_HASH' && fn !== 'DEFAULT_HASH' && fn !== 0) {
    problems.push({ code: 'not_supported', path: `${path}.hash_function`, message: `hash_function ${String(fn)} is not supported yet (only XX_HASH)` });
  }
}

function maglev(o: Obj, path: string, hash: HashLbSettings, problems: LbProblem[]): void {
  const size = wrapped(o['table_size']);
  if (size === undefined) return;
  if (!(Number.isInteger(size) && size < MAX_MAGLEV_TABLE && isPrime(size))) {
    problems.push({ code: 'bad_value', path: `${path}.table_size`, message: `the table size of maglev must be a prime number below ${MAX_MAGLEV_TABLE}, got ${String(size)}` });
    return;
  }
  hash.maglevTableSize = size;
}

/**
 * The cluster's policy. `load_balancing_policy`, when given, decides (its first policy; the schema walk has already
 * refused any policy Legate does not implement); else `lb_policy` (ROUND_ROBIN when absent).
 */
export function compileLbPolicy(c: Obj, path: string, problems: LbProblem[]): CompiledLbPolicy {
  const hash: HashLbSettings = { ...HASH_LB_DEFAULTS };
  const out: CompiledLbPolicy = { policy: 'ROUND_ROBIN', hash, choiceCount: null, activeRequestBias: null };
  if (isObj(c['ring_hash_lb_config'])) ringHash(c['ring_hash_lb_config'], `${path}.ring_hash_lb_config`, hash, problems);
  if (isObj(c['maglev_lb_config'])) maglev(c['maglev_lb_config'], `${path}.maglev_lb_config`, hash, problems);
  const common = c['common_lb_config'];
  if (isObj(common)) consistentHashing(common['consistent_hashing_lb_config'], `${path}.common_lb_config.consistent_hashing_lb_config`, hash, problems);

  const lbp = c['load_balancing_policy'];
  const policies = isObj(lbp) && Array.isArray(lbp['policies']) ? lbp['policies'] : [];
  if (policies.length > 0) {
    for (let i = 0; i < policies.length; i++) {
      const pPath = `${path}.load_balancing_policy.policies[${i}].typed_extension_config`;
      const ext = isObj(policies[i]) ? (policies[i] as Obj)['typed_extension_config'] : undefined;
      const tc = isObj(ext) && isObj(ext['typed_config']) ? ext['typed_config'] : null;
      const name = tc === null ? undefined : EXTENSION_TYPES[String(tc['@type'])];
      if (tc === null || name === undefined) {
        // Envoy takes the first policy it knows; one Legate does not know is skipped the same way.
        continue;
      }
      const at = `${pPath}.typed_config`;
      unknownFields(tc, EXTENSION_FIELDS[name]!, at, problems);
      out.policy = name;
      if (name === 'RING_HASH') {
        ringHash(tc, at, hash, problems);
        if (tc['use_hostname_for_hashing'] === true) hash.useHostnameForHashing = true;
      } else if (name === 'MAGLEV') maglev(tc, at, hash, problems);
      if (name === 'RING_HASH' || name === 'MAGLEV') consistentHashing(tc['consistent_hashing_lb_config'], `${at}.consistent_hashing_lb_config`, hash, problems);
      else if (name === 'LEAST_REQUEST') {
        const cc = wrapped(tc['choice_count']);
        if (cc !== undefined) {
          if (!Number.isInteger(cc) || cc < 2) problems.push({ code: 'bad_value', path: `${at}.choice_count`, message: `choice_count must be an integer >= 2, got ${String(cc)}` });
          else out.choiceCount = cc;
        }
        const bias = isObj(tc['active_request_bias']) ? (tc['active_request_bias'] as Obj)['default_value'] : undefined;
        if (bias !== undefined) {
          const b = Number(bias);
          if (!(b >= 0)) problems.push({ code: 'bad_value', path: `${at}.active_request_bias`, message: `active_request_bias must be >= 0, got ${String(bias)}` });
          else out.activeRequestBias = b;
        }
      }
      return out;
    }
    problems.push({ code: 'not_supported', path: `${path}.load_balancing_policy`, message: 'none of the load balancing policies listed is supported yet (Legate has round_robin, least_request, random, ring_hash, maglev)' });
    return out;
  }

  const lbPolicy = c['lb_policy'] === undefined ? 'ROUND_ROBIN' : String(c['lb_policy']);
  if (!LB_POLICIES.includes(lbPolicy)) {
    problems.push({ code: 'not_supported', path: `${path}.lb_policy`, message: `lb_policy ${lbPolicy} is not supported yet` });
  }
  out.policy = lbPolicy;
  return out;
}
