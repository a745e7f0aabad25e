// A TCP port free on 127.0.0.1 right now (the OS picks it): for throw-away redis-servers and for
// app processes in the tests, the benchmarks and the demo.
import net from 'node:net';

/** The port is released before it is returned: a caller that binds it may lose a race for it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
