/**
 * isLoopbackHost() (shared/loopback.ts): the one loopback rule (checklist A5),
 * the union of the tests the daemon's and doctor's copies had, and the host
 * they disagreed on, checked through both callers so they cannot drift again.
 */
import { describe, expect, it } from '@jest/globals';
import { probeAuthorizationServer } from '../../client/cli/metadata-probe.js';
import { isLoopbackHost } from '../../shared/loopback.js';
import { assertSecureUrl } from '../../shared/resource-uri.js';

describe('isLoopbackHost()', () => {
  it('A5: should count 127.0.0.0/8, ::1 and localhost, in any case and bracket form', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.255', 'localhost', 'LocalHost', '[::1]', '::1', '[0:0:0:0:0:0:0:1]']) {
      expect([host, isLoopbackHost(host)]).toEqual([host, true]);
    }
  });

  it('A5: should not count other addresses or names that merely look local', () => {
    const hosts = ['128.0.0.1', '10.0.0.1', '0.0.0.0', '127.256.0.1', '127.0.0.1.nip.io', '127.example.com', 'localhost.example.com', 'notlocalhost', '::2', '[::2]', '[::ffff:7f00:1]', ''];
    for (const host of hosts) expect([host, isLoopbackHost(host)]).toEqual([host, false]);
  });

  // The daemon's copy accepted *.localhost, doctor's refused it. Node resolves
  // those names through DNS, which may answer with any address: refused.
  it('A5: should refuse *.localhost and localhost. (the daemon accepted api.localhost)', () => {
    for (const host of ['api.localhost', 'a.b.localhost', 'localhost.']) expect([host, isLoopbackHost(host)]).toEqual([host, false]);
  });
});

describe('the daemon and doctor agree', () => {
  const urls = [
    'http://127.0.0.1:9/',
    'http://127.9.9.9/',
    'http://[::1]:9/',
    'http://localhost:9/',
    'http://LOCALHOST/',
    'http://127.1/', // the URL parser writes it as 127.0.0.1
    'http://api.localhost:9/',
    'http://localhost.:9/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.1/',
  ];

  it('A5: should let plain HTTP to a host through in the daemon exactly when doctor does', async () => {
    const unreachable = async (): Promise<Response> => {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    };
    for (const url of urls) {
      let daemonAccepts = true;
      try {
        assertSecureUrl(url, 'issuer', true);
      } catch {
        daemonAccepts = false;
      }
      const probe = await probeAuthorizationServer(url, { timeoutMs: 1000, fetchImpl: unreachable });
      const doctorAccepts = probe.ok || probe.kind !== 'insecure';
      expect([url, daemonAccepts]).toEqual([url, doctorAccepts]);
      expect([url, daemonAccepts]).toEqual([url, isLoopbackHost(new URL(url).hostname)]);
    }
  });
});
