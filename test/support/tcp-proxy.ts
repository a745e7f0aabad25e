import net from 'node:net';

/**
 * A TCP proxy between one node and Redis, to add latency to its connection (both ways, or one way)
 * or cut it, or let requests through while their replies are lost. Test-only: listens on a free
 * loopback port and forwards to `target`.
 */
export class TcpProxy {
  /** Added to both directions, unless `upMs` / `downMs` say otherwise. */
  latencyMs = 0;
  /** Node → Redis latency (requests); undefined: `latencyMs`. */
  upMs: number | undefined;
  /** Redis → node latency (replies); undefined: `latencyMs`. */
  downMs: number | undefined;
  /** Replies are dropped (requests still reach Redis): a link cut just as a reply leaves Redis. */
  dropReplies = false;
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
      this.pipe(client, upstream, 'up');
      this.pipe(upstream, client, 'down');
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

  private pipe(from: net.Socket, to: net.Socket, direction: 'up' | 'down'): void {
    from.on('data', (chunk) => {
      if (direction === 'down' && this.dropReplies) return;
      const send = () => to.destroyed || to.write(chunk);
      const latency = (direction === 'up' ? this.upMs : this.downMs) ?? this.latencyMs;
      if (latency > 0) setTimeout(send, latency);
      else send();
    });
    from.on('close', () => to.destroy());
  }
}
