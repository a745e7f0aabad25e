// The built package, required the way a CommonJS user does: it must get the CommonJS build.
require('reflect-metadata');
const { DiscoveryModule, ServiceDiscovery, DistributedJob } = require('nestjs-redis-discovery');

for (const [name, value] of Object.entries({ DiscoveryModule, ServiceDiscovery, DistributedJob })) {
  if (typeof value !== 'function') throw new Error(`CommonJS require: ${name} is missing`);
}
const resolved = require.resolve('nestjs-redis-discovery');
if (!/[\\/]dist[\\/]cjs[\\/]index\.js$/.test(resolved)) {
  throw new Error(`CommonJS require resolved ${resolved}, not the CommonJS build`);
}
console.log('CommonJS require of dist/cjs: ok');
