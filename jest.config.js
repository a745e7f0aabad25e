// Jest runs in native ESM mode (see package.json "test"): Nest 12 is ESM-only.
import { embedLua } from './scripts/embed-lua.mjs';

// The tests load lib/ from source: its Lua scripts must be embedded first (see embed-lua.mjs).
embedLua();
const swc = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^nestjs-redis-discovery$': '<rootDir>/lib/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  testTimeout: 30000,
  // Each file gets its own redis-server; two workers match the two cores.
  maxWorkers: 2,
};
