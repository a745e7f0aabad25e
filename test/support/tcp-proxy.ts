import net from 'node:net';

/**
 * A TCP proxy between one node and Redis, to add latency to its connection or cut it. Test-only:
 * listens on a free loopback port and forwards to `target`.
 */
export class TcpProxy {
  latencyMs = 0;
  private cut = false;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy;
    const server = net.createServer((client) => {
      if (proxy.cut) return client.destroy();
      const upstream = net.connect(targetPort, targetHost);
      proxy.track(client);
      proxy.track(upstream);
      proxy.pipe(client, upstream);
      proxy.pipe(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
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
