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
  /**
   * Extra delay (ms) for a request chunk, by its content: e.g. one command held up as if Redis
   * were slow to take it. Chunks stay in order: what follows a held chunk waits behind it.
   */
  holdRequest: ((chunk: Buffer) => number) | undefined;
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
    // When the last chunk sent this way leaves: a later chunk never overtakes it (TCP order).
    let lastAt = 0;
    let pending = 0;
    let closed = false;
    from.on('data', (chunk) => {
      if (direction === 'down' && this.dropReplies) return;
      const latency = (direction === 'up' ? this.upMs : this.downMs) ?? this.latencyMs;
      const hold = direction === 'up' ? (this.holdRequest?.(chunk) ?? 0) : 0;
      const at = Math.max(Date.now() + latency + hold, lastAt);
      lastAt = at;
      const send = () => {
        pending -= 1;
        if (!to.destroyed) to.write(chunk);
        if (closed && pending === 0) to.destroy();
      };
      pending += 1;
      if (at > Date.now()) setTimeout(send, at - Date.now());
      else send();
    });
    // A closed side still gets what was on its way, as TCP delivers before the FIN.
    from.on('close', () => {
      closed = true;
      if (pending === 0 || this.cut) to.destroy();
    });
  }
}
