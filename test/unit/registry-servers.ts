// HTTP servers a registry test starts on 127.0.0.1: closed, with the client's
// pooled connections, after each test.
import type { Server } from 'node:http';
import { afterEach } from 'vitest';
import { closeRegistryConnections } from '../../src/registry/http.js';

/** Call at the top of a test file: returns the list to push each started server onto. */
export function useRegistryServers(): Server[] {
  const servers: Server[] = [];
  afterEach(async () => {
    await closeRegistryConnections();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  return servers;
}
