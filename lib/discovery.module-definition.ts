// What ConfigurableModuleBuilder makes for `DiscoveryModule`: the base class with `forRoot()` /
// `forRootAsync()`, the raw options token and the interface of a `useClass` options factory.
import {
  ConfigurableModuleBuilder,
  type InjectionToken,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Type,
} from '@nestjs/common';
import type { DiscoveryModuleOptions } from './options/discovery-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: RAW_DISCOVERY_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<DiscoveryModuleOptions>({ moduleName: 'Discovery' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createDiscoveryOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** `forRootAsync({ useClass })` classes implement this. */
export interface DiscoveryOptionsFactory {
  createDiscoveryOptions(): DiscoveryModuleOptions | Promise<DiscoveryModuleOptions>;
}

/**
 * Options of `DiscoveryModule.forRoot()`: every {@link DiscoveryModuleOptions} option (each one
 * documented there, validated at startup), plus `isGlobal`.
 */
export interface DiscoveryRootOptions extends DiscoveryModuleOptions {
  /** Make ServiceDiscovery, NodePool, DistributedJobs and the health indicator injectable in every module. Default `false`. */
  isGlobal?: boolean;
}

/**
 * Options of `DiscoveryModule.forRootAsync()`: where the {@link DiscoveryModuleOptions} come from
 * (one of `useFactory`, `useClass`, `useExisting`), what that needs, and `isGlobal`.
 */
export interface DiscoveryAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers `useFactory` receives, in order (e.g. `[ConfigService]`). */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Builds the options, e.g. `(config: ConfigService) => ({ redis: config.getOrThrow('REDIS_URL') })`. */
  useFactory?: (...args: any[]) => DiscoveryModuleOptions | Promise<DiscoveryModuleOptions>;
  /** A class the module instantiates, whose `createDiscoveryOptions()` builds the options. */
  useClass?: Type<DiscoveryOptionsFactory>;
  /** A provider (already in scope) whose `createDiscoveryOptions()` builds the options. */
  useExisting?: Type<DiscoveryOptionsFactory>;
  /** Make the services injectable in every module. Default `false`. */
  isGlobal?: boolean;
}
