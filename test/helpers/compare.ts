export * from '../../src/testing/compare.js';
