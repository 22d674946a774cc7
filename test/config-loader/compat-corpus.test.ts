// The loader over real Envoy configs (shared/compat/envoy-configs, see its MANIFEST.md) and Legate's own example
// configs. Real Envoy configs must load, or fail ONLY with "not supported yet" problems that carry a position:
// any other problem is a loader bug (or, listed below with the reason, a config Envoy's API itself rejects).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigErrorList } from '../../src/config-loader/config-error.ts';
import { loadConfig } from '../../src/config-loader/load-config.ts';
import { protoSchema } from '../../src/config-loader/proto-schema.ts';
import { walkDocument } from '../../src/config-loader/schema-walk.ts';
import type { ConfigProblem } from '../../src/config-loader/types.ts';
import { parseYamlSource } from '../../src/config-loader/yaml-source.ts';
import { brief } from './support.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
// In CI a read-only copy of shared/ sits beside the repository.
const corpusDir = path.resolve(repoRoot, '../shared/compat/envoy-configs');
const corpusFiles = fs.existsSync(corpusDir) ? fs.readdirSync(corpusDir).filter((f) => f.endsWith('.yaml')).sort() : [];

/**
 * Corpus files whose problems are right, and why. Each listed problem must be reported exactly (so the loader
 * keeps catching it); everything else in the file must still be not_supported only.
 */
const KNOWN_INVALID: Readonly<Record<string, { why: string; problems: string[] }>> = {
  'envoyproxy-envoy__configs-envoyproxy_io_proxy.yaml': {
    why: "Envoy's v3 API rejects it too: scheme_header_transformation is a message (SchemeHeaderTransformation), not an enum, and HttpConnectionManager has no field 'scheme'",
    problems: [
      '20:11 wrong_type static_resources.listeners[0].filter_chains[0].filters[0].typed_config.scheme_header_transformation: expected an object (envoy.config.core.v3.SchemeHeaderTransformation), got string "OVERWRITE_SCHEME"',
      "21:11 unknown_field static_resources.listeners[0].filter_chains[0].filters[0].typed_config.scheme: unknown field 'scheme' in envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    ],
  },
  'envoyproxy-envoy__configs-jwt_authn.yaml': {
    why: 'JwtClaimToHeader.claim_path is newer than the Envoy protos bundled with @grpc/grpc-js-xds (there claim_name is the only way to name the claim): said so, and not taken for a typo, nor claim_name reported missing',
    problems: [
      "50:21 newer_api static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.providers[\"firebase\"].claim_to_headers[2].claim_path: 'claim_path' in envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader needs a newer Envoy API than Legate's schema (Envoy API v1.31, from @grpc/grpc-js-xds 1.14.1) (the bundled API names the claim with 'claim_name' (a dotted path))",
    ],
  },
};

function problemsLoading(file: string): ConfigProblem[] {
  try {
    loadConfig({ configPath: file, configYaml: undefined });
    return [];
  } catch (err) {
    if (err instanceof ConfigErrorList) return err.problems;
    throw err;
  }
}

/** An xDS resource file (`resources:` of a DiscoveryResponse, loaded through path_config_source), not a bootstrap. */
function isResourceFile(text: string): boolean {
  return /^resources:/m.test(text) && !/^static_resources:|^dynamic_resources:|^admin:|^node:/m.test(text);
}

/**
 * How many corpus bootstraps load without a single problem: 13 before issue 13 (enum values in any case, the
 * bootstrap fields generated configs carry), 15 after it, 17 with the HTTP filter chain and its CORS and local
 * rate limit filters (issue 10: cors/backend, local_ratelimit), 22 with csrf (csrf/samesite), rbac (rbac, with the
 * unified matcher API), ext_authz (grpc-service/v3 and http-service) and the compressor/decompressor (gzip), 24 with
 * xDS (issue 12: dynamic-config-cp over ADS, dynamic-config-fs from files), 26 with tracing (issue 13: opentelemetry,
 * zipkin), 27 with request mirroring (issue 11: route-mirror), 28 with the Lua filter (lua), 29 with locality
 * weighted load balancing (issue 11: locality-load-balancing). A floor, so a change that makes real configs fail
 * again is seen.
 */
const MIN_LOADING = 29;

test('real Envoy configs load, or fail only with positioned "not supported yet" problems', { skip: corpusFiles.length === 0 ? `no compat corpus at ${corpusDir}` : false }, (t) => {
  let biggest = { file: '', lines: 0 };
  let bootstraps = 0;
  let loading = 0;
  for (const name of corpusFiles) {
    const file = path.join(corpusDir, name);
    const text = fs.readFileSync(file, 'utf8');
    if (isResourceFile(text)) continue; // checked by the next test
    const lines = text.split('\n').length;
    if (lines > biggest.lines) biggest = { file, lines };
    const problems = problemsLoading(file);
    bootstraps++;
    if (problems.length === 0) loading++;
    const known = KNOWN_INVALID[name];
    const expected = new Set(known?.problems ?? []);
    const found = new Set<string>();
    for (const p of problems) {
      const line = brief(p);
      if (expected.has(line)) {
        found.add(line);
        continue;
      }
      assert.equal(p.code, 'not_supported', `${name}: only "not supported yet" problems are allowed, got:\n${line}`);
      assert.ok(p.position !== undefined, `${name}: a problem without a position: ${line}`);
      assert.equal(p.position.file, file, `${name}: ${line}`);
      assert.match(p.message, /^not supported yet: .+ \(line \d+\)$/, `${name}: ${line}`);
      assert.ok(p.message.endsWith(`(line ${p.position.line})`), `${name}: the message names another line than the position: ${line}`);
    }
    assert.deepEqual([...expected].filter((e) => !found.has(e)), [], `${name}: ${known?.why ?? ''}`);
  }
  t.diagnostic(`${loading} of ${bootstraps} corpus bootstraps load without a problem`);
  assert.ok(loading >= MIN_LOADING, `${loading} of ${bootstraps} load; at least ${MIN_LOADING} did`);
  // Load time of the biggest config (for the record, never asserted): once cold, then warm.
  const t0 = performance.now();
  problemsLoading(biggest.file);
  const warm = performance.now() - t0;
  t.diagnostic(`biggest corpus config ${path.basename(biggest.file)} (${biggest.lines} lines): ${warm.toFixed(2)} ms warm; proto files parsed in ${protoSchema().loadMs.toFixed(1)} ms in all`);
});

test('the xDS resource files of the corpus are valid DiscoveryResponses', { skip: corpusFiles.length === 0 ? `no compat corpus at ${corpusDir}` : false }, () => {
  const schema = protoSchema();
  const type = schema.lookupMessage('envoy.service.discovery.v3.DiscoveryResponse');
  assert.ok(type);
  let count = 0;
  for (const name of corpusFiles) {
    const file = path.join(corpusDir, name);
    const text = fs.readFileSync(file, 'utf8');
    if (!isResourceFile(text)) continue;
    count++;
    const parsed = parseYamlSource(text, file);
    assert.deepEqual(parsed.problems, []);
    assert.ok(parsed.root);
    const walked = walkDocument(parsed.root, type, schema, { checkSupport: false });
    assert.deepEqual(walked.problems.map(brief), [], name);
    const resources = walked.value['resources'] as Record<string, unknown>[];
    assert.ok(resources.length > 0);
    for (const r of resources) assert.match(String(r['@type']), /^type\.googleapis\.com\/envoy\.config\.(listener|cluster)\.v3\.(Listener|Cluster)$/);
  }
  assert.ok(count >= 2, 'the corpus has lds and cds resource files');
});

test("Legate's own example configs load without a problem", () => {
  const dir = path.join(repoRoot, 'config');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  for (const name of files) {
    const problems = problemsLoading(path.join(dir, name));
    assert.deepEqual(problems.map(brief), [], name);
  }
});
