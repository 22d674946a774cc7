// Envoy's default tag extraction: tag-extracted names and tags for every scope kind Legate has, the response
// code rules, and explicit tags for names with dots.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { extractTags, type ExplicitTags } from '../../src/stats/tag-extractor.ts';

function check(name: string, extracted: string, tags: [string, string][], explicit: ExplicitTags = []): void {
  const r = extractTags(name, explicit);
  assert.equal(r.tagExtractedName, extracted, name);
  assert.deepEqual(r.tags.map((t) => [t.name, t.value]), tags, name);
}

describe('extractTags', () => {
  it('cluster, http, listener, server and worker scopes', () => {
    check('cluster.backend.upstream_rq_total', 'cluster.upstream_rq_total', [['envoy_cluster_name', 'backend']]);
    check('http.ingress_http.downstream_rq_total', 'http.downstream_rq_total', [['envoy_http_conn_manager_prefix', 'ingress_http']]);
    check('listener.0.0.0.0_10000.downstream_cx_total', 'listener.downstream_cx_total', [['envoy_listener_address', '0.0.0.0_10000']]);
    check('listener.[__1]_80.downstream_cx_total', 'listener.downstream_cx_total', [['envoy_listener_address', '[__1]_80']]);
    check('server.live', 'server.live', []);
    check('worker_0.downstream_rq_total', 'worker_downstream_rq_total', [['envoy_worker_id', '0']]);
    check('listener.0.0.0.0_10000.worker_1.downstream_cx_total', 'listener.worker_downstream_cx_total', [
      ['envoy_worker_id', '1'],
      ['envoy_listener_address', '0.0.0.0_10000'],
    ]);
    check('tcp.egress.downstream_cx_total', 'tcp.downstream_cx_total', [['envoy_tcp_prefix', 'egress']]);
  });

  it('response codes and classes become tags', () => {
    check('http.ingress.downstream_rq_2xx', 'http.downstream_rq_xx', [
      ['envoy_response_code_class', '2'],
      ['envoy_http_conn_manager_prefix', 'ingress'],
    ]);
    check('cluster.backend.upstream_rq_503', 'cluster.upstream_rq', [
      ['envoy_response_code', '503'],
      ['envoy_cluster_name', 'backend'],
    ]);
    // Not a code: left alone.
    check('cluster.backend.upstream_rq_total', 'cluster.upstream_rq_total', [['envoy_cluster_name', 'backend']]);
  });

  it('keeps listener.admin in the name, as Envoy does', () => {
    check('listener.admin.downstream_cx_total', 'listener.admin.downstream_cx_total', []);
  });

  it('takes a dotted cluster name whole when the scope says so, and like Envoy when it does not', () => {
    check('cluster.my.svc.upstream_rq_total', 'cluster.upstream_rq_total', [['envoy_cluster_name', 'my.svc']], [
      ['envoy_cluster_name', 'my.svc'],
    ]);
    check('cluster.my.svc.upstream_rq_total', 'cluster.svc.upstream_rq_total', [['envoy_cluster_name', 'my']]);
  });

  it('keeps an explicit tag no rule places, after the extracted ones', () => {
    check('custom.thing.count', 'custom.thing.count', [['team', 'edge']], [['team', 'edge']]);
  });
});
