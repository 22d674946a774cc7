// The test control plane (test/support/xds-control-plane.ts) checked against an xDS client that is not ours:
// @grpc/grpc-js-xds, pointed at it with GRPC_XDS_BOOTSTRAP_CONFIG, resolves xds:///echo.test through LDS (an
// api_listener) -> RDS -> CDS -> EDS served by it and makes a gRPC call to the endpoint; it ACKs every type.
// So the protocol Legate's tests rely on is also the one a real client speaks.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { XdsControlPlane, TYPE_URLS, edsCluster, routeConfig } from '../support/xds-control-plane.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const METHOD = '/legate.test.Echo/Say';
const raw = (b: Buffer): Buffer => b;

describe('xds: the test control plane against @grpc/grpc-js-xds', () => {
  let cp: XdsControlPlane;
  let server: grpc.Server;
  let client: grpc.Client | null = null;

  before(async () => {
    server = new grpc.Server();
    server.addService({
      Say: { path: METHOD, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    }, {
      Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    cp = await new XdsControlPlane().start();
    cp.setSnapshot({
      version: 'x1',
      resources: {
        lds: [{
          name: 'echo.test',
          api_listener: {
            api_listener: {
              '@type': HCM,
              stat_prefix: 'echo',
              rds: { route_config_name: 'echo_route', config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
            },
          },
        }],
        rds: [routeConfig('echo_route', 'echo_cluster', 'x1')],
        cds: [edsCluster('echo_cluster')],
        eds: [{
          cluster_name: 'echo_cluster',
          endpoints: [{
            locality: { region: 'r', zone: 'z' },
            load_balancing_weight: { value: 1 },
            lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }],
          }],
        }],
      },
    });
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${cp.port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-xds-client', locality: {} },
    });
    const xds = await import('@grpc/grpc-js-xds');
    xds.register();
  });

  after(() => {
    client?.close();
    cp?.stop();
    server?.forceShutdown();
  });

  it('a real xDS client resolves LDS -> RDS -> CDS -> EDS from it, calls the endpoint and ACKs every type', async () => {
    client = new grpc.Client('xds:///echo.test', grpc.credentials.createInsecure());
    const reply = await new Promise<Buffer>((resolve, reject) => {
      client!.makeUnaryRequest(METHOD, raw, raw, Buffer.from('hi'), { deadline: Date.now() + 20_000 }, (err, value) => (err ? reject(err) : resolve(value!)));
    });
    assert.equal(reply.toString(), 'echo:hi');
    for (const t of Object.values(TYPE_URLS)) {
      const ack = await cp.waitForRequest((q) => q.typeUrl === t && q.versionInfo === 'x1' && q.responseNonce !== '' && q.errorDetail === null);
      assert.equal(ack.delta, false);
    }
    assert.equal(cp.requests[0]!.node?.['id'], 'grpc-xds-client');
  });
});
