// The apps of scripts/smoke-pack.mjs: what each one installs, its configuration files as a fresh
// app of its kind has them, and the commands it must pass. Sources: shared/ plus its own folder.

/** A Nest 11 app's default tsconfig (`nest new` of @nestjs/cli 11, as generated in December 2026). */
const NEST11_TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    resolvePackageJsonExports: true,
    esModuleInterop: true,
    isolatedModules: true,
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    allowSyntheticDefaultImports: true,
    target: 'ES2023',
    sourceMap: true,
    outDir: './dist',
    baseUrl: './',
    incremental: true,
    skipLibCheck: true,
    strictNullChecks: true,
    forceConsistentCasingInFileNames: true,
    noImplicitAny: true,
    strictBindCallApply: true,
    noFallthroughCasesInSwitch: true,
  },
  include: ['src'],
};

/** A Nest 11 app's default Jest configuration (its package.json "jest"). */
const NEST11_JEST = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: 'src',
  testRegex: '.*\\.spec\\.ts$',
  transform: { '^.+\\.(t|j)s$': 'ts-jest' },
  collectCoverageFrom: ['**/*.(t|j)s'],
  coverageDirectory: '../coverage',
  testEnvironment: 'node',
};

/** An ESM app on Node's own module system (declarations of libraries not checked, as usual). */
const ESM_TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'ES2022',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    outDir: 'dist',
    rootDir: 'src',
    types: ['node'],
  },
  include: ['src'],
};

const NPM_INSTALL = ['npm', 'install', '--no-audit', '--no-fund', '--loglevel=error'];
const PNPM = ['npx', '--yes', 'pnpm@10'];
/** Isolated (pnpm's default, said explicitly) and nothing hoisted: a package sees what it declares. */
const STRICT = ['--config.node-linker=isolated', '--config.hoist=false'];

const esmPackage = (name, tarball) => ({
  name,
  private: true,
  version: '0.0.0',
  type: 'module',
  dependencies: {
    '@nestjs/common': '^12.0.0',
    '@nestjs/core': '^12.0.0',
    '@nestjs/schedule': '^12.0.0',
    ioredis: '^6.0.0',
    'nestjs-redis-discovery': `file:${tarball}`,
    'reflect-metadata': '^0.2.0',
    rxjs: '^7.8.0',
  },
  devDependencies: { '@types/node': '^20.19.0', typescript: '~5.9.0' },
});

export const SCENARIOS = [
  {
    name: 'nest11-cjs',
    title: 'Nest 11, CommonJS, default Jest 30 (ts-jest), @nestjs/schedule 6, ioredis 5',
    sources: 'nest11-cjs',
    files: (tarball) => ({
      'package.json': {
        name: 'smoke-nest11-cjs',
        private: true,
        version: '0.0.0',
        dependencies: {
          '@nestjs/common': '^11.0.0',
          '@nestjs/core': '^11.0.0',
          '@nestjs/schedule': '^6.0.0',
          ioredis: '^5.8.0',
          'nestjs-redis-discovery': `file:${tarball}`,
          'reflect-metadata': '^0.2.0',
          rxjs: '^7.8.0',
        },
        devDependencies: {
          '@nestjs/testing': '^11.0.0',
          '@types/jest': '^30.0.0',
          '@types/node': '^20.19.0',
          jest: '^30.0.0',
          'ts-jest': '^29.2.0',
          typescript: '~5.9.0',
        },
        jest: NEST11_JEST,
      },
      'tsconfig.json': NEST11_TSCONFIG,
      // The older default (`module: commonjs`, Node 10 resolution: no exports map).
      'tsconfig.commonjs.json': {
        extends: './tsconfig.json',
        compilerOptions: {
          module: 'commonjs',
          moduleResolution: 'node',
          resolvePackageJsonExports: false,
        },
      },
    }),
    steps: [
      NPM_INSTALL,
      ['npx', 'tsc', '-p', 'tsconfig.json', '--noEmit'],
      ['npx', 'tsc', '-p', 'tsconfig.commonjs.json', '--noEmit'],
      ['npx', 'jest'],
    ],
  },
  {
    name: 'nest12-esm',
    title: 'Nest 12, native ESM, TypeScript nodenext, ioredis 6',
    sources: 'nest12-esm',
    files: (tarball) => ({
      'package.json': esmPackage('smoke-nest12-esm', tarball),
      'tsconfig.json': ESM_TSCONFIG,
    }),
    steps: [NPM_INSTALL, ['npx', 'tsc', '-p', 'tsconfig.json'], ['node', 'dist/main.js']],
  },
  {
    name: 'pnpm-strict',
    title: 'the Nest 12 ESM app installed by pnpm 10 (isolated node_modules)',
    sources: 'nest12-esm',
    files: (tarball) => ({
      'package.json': esmPackage('smoke-pnpm-strict', tarball),
      'tsconfig.json': ESM_TSCONFIG,
    }),
    steps: [
      [...PNPM, 'install', '--reporter=append-only', ...STRICT],
      [...PNPM, 'exec', 'tsc', '-p', 'tsconfig.json'],
      ['node', 'dist/main.js'],
    ],
  },
];
