// A Nest 12 ESM app (Node's own ESM, TypeScript `nodenext`): boots, finds itself, runs its job,
// shuts down; exits non-zero on any failure.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { DistributedJobs, ServiceDiscovery } from 'nestjs-redis-discovery';
import { AppModule, ReportJob } from './app.module.js';

const resolved = import.meta.resolve('nestjs-redis-discovery');
if (!/\/dist\/index\.js$/.test(resolved)) throw new Error(`import resolved ${resolved}`);

const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
const discovery = app.get(ServiceDiscovery);
const found = await discovery.findNodesByService('smoke-api', '^1.2.0');
if (found[0]?.nodeId !== discovery.nodeId) throw new Error('the node does not find itself');
const job = app.get(ReportJob);
for (const deadline = Date.now() + 4000; job.tokens.length === 0;) {
  if (Date.now() > deadline) throw new Error('the job never ran');
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const runs = app.get(DistributedJobs).list()[0]?.runs ?? 0;
await app.close();
console.log(`ESM app: registered, found itself, job ran ${runs} time(s), closed: ok`);
