// An origin that answers as `python3 -m http.server` does: HTTP/1.0, a
// Content-Length, the whole body written at once and the connection closed
// after it (FIN right behind the last byte). Clients that read slower than
// loopback delivers are under backpressure when that FIN arrives. It can also
// hold responses after part of the body and say so, for kills mid-download.
// Listens on 127.0.0.1 only and stops by itself after lifetimeMs.
import { createServer, type Socket } from 'node:net';

/** Handle to a running HTTP/1.0 origin. */
export interface Http10Origin {
  url: string;
  /** GET requests seen per path. */
  requests(path: string): number;
  /**
   * From now on, send headers and the first `bytes` of each body, then hold
   * the connection open without sending more until release().
   */
  hold(bytes: number): void;
  /** Resolves once `count` responses are being held (counted since hold()). */
  held(count: number): Promise<void>;
  /** Stop holding: drop the held connections and serve whole bodies again. */
  release(): void;
  close(): Promise<void>;
}

/** Start an HTTP/1.0 origin serving `files` (URL path -> bytes). */
export async function startHttp10Origin(served: Record<string, Buffer>, lifetimeMs = 15 * 60 * 1000): Promise<Http10Origin> {
  const files = new Map(Object.entries(served));
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let holdBytes: number | undefined;
  let heldSockets: Socket[] = [];
  let waiters: { count: number; resolve: () => void }[] = [];

  const notify = () => {
    waiters = waiters.filter((w) => {
      if (heldSockets.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  const respond = (sock: Socket, head: string) => {
    const [method, target] = head.split(' ', 2);
    const urlPath = (target ?? '/').split('?', 1)[0] ?? '/';
    const body = files.get(urlPath);
    if (method !== 'GET' || body === undefined) {
      sock.end(`HTTP/1.0 404 File not found\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    counts.set(urlPath, (counts.get(urlPath) ?? 0) + 1);
    sock.write(`HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
    if (holdBytes === undefined) {
      // All of it at once, then FIN: what a blocking copy loop followed by close() gives.
      sock.end(body);
      return;
    }
    sock.write(body.subarray(0, Math.min(holdBytes, body.length - 1)), () => {
      // Handed to the kernel: the client can read it now.
      heldSockets.push(sock);
      notify();
    });
  };

  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined); // a killed client resets its connections
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16 * 1024) sock.destroy();
        return;
      }
      sock.off('data', onData);
      respond(sock, head.slice(0, end));
    };
    sock.on('data', onData);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('http10 origin: unexpected server address');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((ok) => {
      clearTimeout(lifetime);
      server.close(() => ok());
      for (const s of sockets) s.destroy();
    });
    return closing;
  };
  const lifetime = setTimeout(() => void close(), lifetimeMs);
  lifetime.unref();

  return {
    url: `http://127.0.0.1:${address.port}`,
    requests: (p) => counts.get(p) ?? 0,
    hold(bytes) {
      holdBytes = bytes;
      heldSockets = [];
    },
    held: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        notify();
      }),
    release() {
      holdBytes = undefined;
      for (const s of heldSockets) s.destroy();
      heldSockets = [];
    },
    close,
  };
}
