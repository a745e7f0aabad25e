// The built package, imported the way an ESM user does.
import 'reflect-metadata';
import { DiscoveryModule, ServiceDiscovery, DistributedJob } from 'nestjs-redis-discovery';

for (const [name, value] of Object.entries({ DiscoveryModule, ServiceDiscovery, DistributedJob })) {
  if (typeof value !== 'function') throw new Error(`ESM import: ${name} is missing`);
}
console.log('ESM import of dist: ok');
