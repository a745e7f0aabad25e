// The built package, required the way a CommonJS user does (Node >= 20.19 loads ESM via require).
require('reflect-metadata');
const { DiscoveryModule, ServiceDiscovery, DistributedJob } = require('nestjs-redis-discovery');

for (const [name, value] of Object.entries({ DiscoveryModule, ServiceDiscovery, DistributedJob })) {
  if (typeof value !== 'function') throw new Error(`CommonJS require: ${name} is missing`);
}
console.log('CommonJS require of dist: ok');
