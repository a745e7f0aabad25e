import { describe } from '@jest/globals';
import { digestContract } from './digest.contract.js';
import { discoveryContract } from './discovery.contract.js';

describe('in-memory registry (single process)', () => {
  discoveryContract(() => ({}));
  digestContract(() => ({}));
});
