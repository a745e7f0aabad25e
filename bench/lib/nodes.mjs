// Nodes for the benchmarks: a Nest app context with DiscoveryModule in this process, or a node in
// its own process (test/fixtures/cluster-node.mjs, which runs the built package).
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DiscoveryModule, NodePool, ServiceDiscovery } from 'nestjs-redis-discovery';
import { waitFor } from './stats.mjs';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/cluster-node.mjs', import.meta.url));

/** A Nest application context importing DiscoveryModule.forRoot(options), logging nothing. */
export async function startApp(options) {
  class AppModule {}
  Module({ imports: [DiscoveryModule.forRoot(options)] })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: false,
    abortOnError: false,
  });
  await app.init();
  return {
    app,
    discovery: app.get(ServiceDiscovery),
    pool: app.get(NodePool),
    close: () => app.close(),
  };
}

const live = new Set();
process.on('exit', () => {
  for (const node of live) node.child.kill('SIGKILL');
});

/** A node process; `reports` collects the JSON lines it prints (ready, run, ...). */
export async function startNodeProcess(config) {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, NODE_CONFIG: JSON.stringify(config), NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const node = { nodeId: config.discovery.nodeId, child, reports: [], stderr: '' };
  live.add(node);
  node.exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  node.exited.then(() => live.delete(node));
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      node.reports.push(JSON.parse(line));
    } catch {
      node.stderr += `${line}\n`;
    }
  });
  child.stderr.on('data', (chunk) => (node.stderr += chunk));
  node.kill = async () => {
    child.kill('SIGKILL');
    await node.exited;
  };
  let exitCode;
  node.exited.then((code) => (exitCode = code));
  await waitFor(
    () => {
      if (exitCode !== undefined)
        throw new Error(`${node.nodeId} exited (${exitCode}):\n${node.stderr}`);
      return node.reports.some((r) => r.event === 'ready');
    },
    { timeout: 20_000, what: `${node.nodeId} ready` },
  );
  return node;
}
