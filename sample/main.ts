// The sample app: `npm run sample` (in-memory registry, this process only), or several replicas
// sharing jobs: `REDIS_URL=redis://localhost:6379 NODE_ID=a PORT=3001 npm run sample` (and b, c...).
// Env: see config.ts. Endpoints: GET /live, /health, /nodes, /services/:name?version=, /jobs,
// /metrics (Prometheus text) and the live cluster page at /cluster.
// `npm run demo` starts three of them, kills one and checks that every tick ran exactly once.
import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { ConfigError, loadConfig, type SampleConfig } from './config.js';

let config: SampleConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`sample: ${error.message}\n`);
  process.exit(1);
}

const logger = new ConsoleLogger({
  json: config.logJson,
  colors: !config.logJson && process.stdout.isTTY === true,
});
const app = await NestFactory.create(AppModule.register(config), { logger });
// SIGTERM/SIGINT: stop taking ticks, drain running jobs, deregister, then exit.
// useProcessExit: exit 0 once shut down (by default Nest re-raises the signal, so the process
// ends "killed by SIGTERM" even after a clean shutdown).
app.enableShutdownHooks([], { useProcessExit: true });
await app.listen(config.port);

const address = app.getHttpServer().address();
const port = typeof address === 'object' && address ? address.port : config.port;
if (config.logJson) {
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', node: config.nodeId, port, pid: process.pid, at: Date.now() })}\n`,
  );
} else {
  logger.log(
    `Node ${config.nodeId} listening on http://localhost:${port} (${config.redisUrl ? `Redis ${config.redisUrl}` : 'in-memory registry'}); cluster page: http://localhost:${port}/cluster; metrics: /metrics; try /nodes, /jobs, /health`,
    'Sample',
  );
}
