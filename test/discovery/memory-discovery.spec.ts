import { describe } from '@jest/globals';
import { discoveryContract } from './discovery.contract.js';

describe('in-memory registry (single process)', () => {
  discoveryContract(() => ({}));
});
