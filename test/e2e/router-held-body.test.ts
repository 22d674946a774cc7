// End to end: a body a filter held (buffer, ext_authz while its check runs) reaches an HTTP/2 upstream whole. The
// router ends the upstream request when the chain hands it the end of the request, not when the client finished
// sending: before, a pooled HTTP/2 connection ready at once sent the headers with END_STREAM, and the body the
// filter released afterwards was a 503.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startLegate, freePort, type LegateProcess } from '../support/legate-process.ts';
import { bootstrap, cluster, hcmListener } from '../support/config-builder.ts';
import { curl } from '../support/curl.ts';

const BUFFER = 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer';
const EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

describe('a body held by a filter, to an HTTP/2 upstream', () => {
  let legate: LegateProcess;
  let auth: http.Server;
  let h2: http2.Http2Server;
  const bodies: string[] = [];
  let bufferPort: number;
  let authzPort: number;

  before(async () => {
    auth = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
    h2 = http2.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    bufferPort = await freePort();
    authzPort = await freePort();
    const routes = [{ match: '{ prefix: "/" }', action: 'route: { cluster: backend }' }];
    const withFilter = (name: string, port: number, filter: string): string =>
      hcmListener({ name, port, routes, httpFilters: filter });
    const listeners = [
      withFilter('buffered', bufferPort, `          - name: buf
            typed_config: { "@type": ${BUFFER}, max_request_bytes: 65536 }
`),
      withFilter('authorized', authzPort, `          - name: authz
            typed_config:
              "@type": ${EXT_AUTHZ}
              http_service:
                server_uri: { uri: "http://authz", cluster: authz, timeout: 2s }
`),
    ];
    const clusters = [
      cluster({ name: 'backend', endpoints: [{ address: '127.0.0.1', port: (h2.address() as AddressInfo).port }], extra: '    http2_protocol_options: {}\n' }),
      cluster({ name: 'authz', endpoints: [{ address: '127.0.0.1', port: (auth.address() as AddressInfo).port }] }),
    ];
    legate = await startLegate({ config: bootstrap(listeners, clusters), concurrency: 1 });
    // A first request leaves a pooled HTTP/2 connection ready for the next: the case that failed.
    for (const port of [bufferPort, authzPort]) assert.equal((await curl([`http://127.0.0.1:${port}/warm`])).status, 200);
  });

  after(async () => {
    await legate?.stop();
    auth?.close();
    h2?.close();
  });

  for (const [label, port] of [['buffer', () => bufferPort], ['ext_authz', () => authzPort]] as const) {
    it(`${label}: sized and chunked bodies arrive whole`, async () => {
      bodies.length = 0;
      const sized = await curl([`http://127.0.0.1:${port()}/post`, '--data-binary', `sized-${label}`]);
      const chunked = await curl([`http://127.0.0.1:${port()}/post`, '-H', 'transfer-encoding: chunked', '--data-binary', `chunked-${label}`]);
      assert.equal(sized.status, 200);
      assert.equal(chunked.status, 200);
      assert.deepEqual(bodies, [`sized-${label}`, `chunked-${label}`]);
    });
  }
});
