import net from 'node:net';

/**
 * A TCP proxy between one node and Redis, to add latency to its connection or cut it. Test-only:
 * listens on a free loopback port and forwards to `target`.
 */
export class TcpProxy {
  latencyMs = 0;
  private cut = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  port = 0;

  private constructor(targetPort: number, targetHost: string) {
    this.server = net.createServer((client) => {
      if (this.cut) return client.destroy();
      const upstream = net.connect(targetPort, targetHost);
      this.track(client);
      this.track(upstream);
      this.pipe(client, upstream);
      this.pipe(upstream, client);
    });
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** Drops every connection and refuses new ones until `restore()`. */
  cutConnections(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.cutConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private pipe(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk) => {
      const send = () => to.destroyed || to.write(chunk);
      if (this.latencyMs > 0) setTimeout(send, this.latencyMs);
      else send();
    });
    from.on('close', () => to.destroy());
  }
}
