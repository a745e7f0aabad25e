// What ConfigurableModuleBuilder makes for `DiscoveryModule`: the base class with `forRoot()` /
// `forRootAsync()`, the raw options token and the interface of a `useClass` options factory.
import { ConfigurableModuleBuilder } from '@nestjs/common';
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
